"""A benchmark worker: a long-lived process that sets up and times cases on request.

``run.py`` starts one worker per backend, with that backend's Python, and talks to it over
stdin/stdout in JSON lines, so import cost never enters a measurement. Requests:

    {"op": "hello", "threads": N | null, "clock": "wall" | "cpu"}
                                              -> versions of python, torch and pyro
    {"op": "setup", "case": NAME, "impl": "pyro" | "torch", "min_time": S}
                                              -> {"number": n} calls per timing (autoranged),
                                                 or {"na": reason} / {"error": text}
    {"op": "time", "repeat": R}               -> {"times": [seconds per call, ...]}

Anything the timed code prints goes to stderr, never into the protocol stream.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _missing(exc: ImportError) -> str:
    # "cannot import name 'X' from 'pyro.infer'" -> pyro.infer.X; "No module named 'a.b'" -> a.b
    text = str(exc)
    if "cannot import name" in text:
        name = text.split("'")[1]
        module = text.split("'")[3] if text.count("'") >= 4 else ""
        return f"{module}.{name}" if module else name
    return exc.name or text


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def _time(fn, number: int) -> float:
    """Seconds per call over ``number`` calls, garbage collection off (as timeit does)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    clock = _clock
    try:
        start = clock()
        for _ in range(number):
            fn()
        return (clock() - start) / number
    finally:
        if enabled:
            gc.enable()


def _autorange(fn, min_time: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... calls that take at least ``min_time`` seconds."""
    fn()  # first call: lazy creation (params, optimiser state) is not timed
    scale = 1
    while True:
        for n in (1, 2, 5):
            number = n * scale
            if _time(fn, number) * number >= min_time:
                return number
        scale *= 10


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # prints from cases land on stderr
    sys.stdout = sys.stderr

    from cases import load_all

    cases = load_all()
    fn = None

    def reply(obj):
        protocol.write(json.dumps(obj) + "\n")
        protocol.flush()

    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "hello":
            import torch

            global _clock
            _clock = CLOCKS[req.get("clock", "wall")]
            if req.get("threads"):
                torch.set_num_threads(int(req["threads"]))
            info = {"python": sys.version.split()[0], "torch": torch.__version__,
                    "threads": torch.get_num_threads()}
            try:
                import pyro

                info["pyro"] = getattr(pyro, "__version__", "?")
                info["pyro_path"] = os.path.dirname(pyro.__file__)
            except ImportError:
                info["pyro"] = None
            reply(info)
        elif op == "setup":
            fn = None
            case = cases[req["case"]]
            setup = case.setup_for(req["impl"])
            if setup is None:
                reply({"na": f"n/a (no {req['impl']} version)"})
                continue
            try:
                import torch

                torch.manual_seed(0)
                fn = setup()
                number = _autorange(fn, req["min_time"])
            except ImportError as e:
                fn = None
                reply({"na": f"n/a (missing: {_missing(e)})"})
            except Exception as e:  # reported in the table; the run goes on
                fn = None
                traceback.print_exc()
                reply({"error": f"{type(e).__name__}: {e}".splitlines()[0][:200]})
            else:
                reply({"number": number})
        elif op == "time":
            number = req["number"]
            try:
                times = [_time(fn, number) for _ in range(req["repeat"])]
            except Exception as e:
                traceback.print_exc()
                reply({"error": f"{type(e).__name__}: {e}".splitlines()[0][:200]})
            else:
                reply({"times": times})
        elif op == "quit":
            break


if __name__ == "__main__":
    main()
