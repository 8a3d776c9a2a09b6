"""Run benchmark cases side by side in three backends and print a markdown table.

Backends:
    ours        this repository's pyro (the Python running this script, or --ours-python)
    pyro-1.9.2  pyro-ppl 1.9.2 in a separate virtual environment (--pyro-python)
    torch       the same math written in plain torch (same Python as "ours")

Each backend runs in its own persistent worker process (``worker.py``), so import cost is
excluded. For every case the backends are measured round-robin, several rounds, the order
rotating each round; each measurement times an autoranged number of calls. The table shows
the median time per call and the ratios ours/pyro and ours/torch.

    python benchmarks/run.py                       # every case
    python benchmarks/run.py -k 'core.*' --json out.json
    python benchmarks/run.py --list
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from cases import load_all  # noqa: E402

BACKENDS = ("ours", "pyro-1.9.2", "torch")
IMPL = {"ours": "pyro", "pyro-1.9.2": "pyro", "torch": "torch"}
DEFAULT_PYRO_PYTHON = os.environ.get(
    "PYRO_BENCH_REFERENCE_PYTHON", os.path.join(ROOT, ".bench", "pyro192", "bin", "python")
)


class Worker:
    """A worker subprocess for one backend, spoken to in JSON lines."""

    def __init__(self, backend: str, python: str, threads: Optional[int], clock: str) -> None:
        self.backend = backend
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{backend}-", suffix=".log",
                                               delete=False)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # each backend sees only its own environment's pyro
        self.proc = subprocess.Popen(
            [python, os.path.join(HERE, "worker.py")], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1, env=env, cwd=HERE,
        )
        self.info = self.ask({"op": "hello", "threads": threads, "clock": clock})

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.flush()
            with open(self.log.name) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f"the {self.backend} worker died:\n{tail}")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.ask({"op": "quit"}) if self.proc.poll() is None else None
        except (RuntimeError, BrokenPipeError, json.JSONDecodeError):
            pass
        self.proc.wait(timeout=10)


def select(cases: Dict, patterns: List[str]) -> List[str]:
    """Names matching any glob (or, without wildcards, containing any substring) in ``patterns``."""
    if not patterns:
        return list(cases)
    chosen = []
    for name in cases:
        for pat in patterns:
            if any(c in pat for c in "*?[") and fnmatch.fnmatch(name, pat) or pat in name:
                chosen.append(name)
                break
    return chosen


def measure(case_name: str, workers: Dict[str, Worker], rounds: int, repeat: int,
            min_time: float) -> Dict[str, dict]:
    """Set the case up in every worker, then time it round-robin; return a result per backend."""
    results: Dict[str, dict] = {}
    numbers: Dict[str, int] = {}
    for backend, worker in workers.items():
        reply = worker.ask({"op": "setup", "case": case_name, "impl": IMPL[backend],
                            "min_time": min_time})
        if "number" in reply:
            numbers[backend] = reply["number"]
            results[backend] = {"times": [], "number": reply["number"]}
        else:
            results[backend] = {"cell": reply.get("na") or f"error: {reply['error']}"}
    live = list(numbers)
    for r in range(rounds):
        order = live[r % len(live):] + live[: r % len(live)] if live else []
        for backend in order:
            if "cell" in results[backend]:
                continue
            reply = workers[backend].ask({"op": "time", "number": numbers[backend],
                                          "repeat": repeat})
            if "times" in reply:
                results[backend]["times"].extend(reply["times"])
            else:
                results[backend] = {"cell": f"error: {reply['error']}"}
    for res in results.values():
        if "times" in res:
            res["median_us"] = statistics.median(res["times"]) * 1e6
            res["min_us"] = min(res["times"]) * 1e6
    return results


def fmt_us(us: float) -> str:
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}"


def ratio(results: Dict[str, dict], a: str, b: str) -> Optional[float]:
    if "median_us" in results.get(a, {}) and "median_us" in results.get(b, {}):
        return results[a]["median_us"] / results[b]["median_us"]
    return None


def table(rows: List[tuple], backends: List[str], cases: Dict) -> str:
    head = ["case"] + [f"{b} µs" for b in backends] + ["ours/pyro", "ours/torch", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|"]
    for name, results in rows:
        cells = [name]
        for b in backends:
            res = results.get(b, {})
            cells.append(fmt_us(res["median_us"]) if "median_us" in res else res.get("cell", ""))
        r_pyro, r_torch = ratio(results, "ours", "pyro-1.9.2"), ratio(results, "ours", "torch")
        cells += [f"{r_pyro:.2f}" if r_pyro else "", f"{r_torch:.2f}" if r_torch else ""]
        target = cases[name].target
        if target is None:
            cells.append("")
        else:
            against, limit = target
            got = r_pyro if against == "pyro" else r_torch
            mark = "" if got is None else (" ✓" if got <= limit else " ✗")
            cells.append(f"≤ {limit:g}× {against}{mark}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", action="append", default=[], metavar="PATTERN",
                        help="run cases matching this glob or substring (repeatable, or comma-separated)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated subset of {','.join(BACKENDS)}")
    parser.add_argument("--ours-python", default=sys.executable,
                        help="Python of the environment with this repo's packages (default: this one)")
    parser.add_argument("--pyro-python", default=DEFAULT_PYRO_PYTHON,
                        help="Python of the pyro-ppl 1.9.2 environment (default: "
                             "$PYRO_BENCH_REFERENCE_PYTHON or .bench/pyro192/bin/python)")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per backend per round (default 3)")
    parser.add_argument("--min-time", type=float, default=0.05,
                        help="seconds one timing lasts at least (autoranged; default 0.05)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in every worker")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: perf_counter (default); cpu: process CPU time, steadier on a "
                             "busy machine (use with --threads 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    cases = load_all()
    patterns = [p for k in args.k for p in k.split(",") if p]
    names = select(cases, patterns)
    if args.list:
        for name in cases:
            print(f"{name:28s} {cases[name].doc}")
        return 0
    if not names:
        print(f"no case matches {patterns}", file=sys.stderr)
        return 2

    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}")
    # Absolute: the workers run in benchmarks/, where a path relative to the caller means nothing.
    ours, reference = os.path.abspath(args.ours_python), os.path.abspath(args.pyro_python)
    pythons = {"ours": ours, "pyro-1.9.2": reference, "torch": ours}
    workers: Dict[str, Worker] = {}
    try:
        for b in backends:
            if not os.path.exists(pythons[b]):
                print(f"warning: no Python at {pythons[b]} for {b}; see benchmarks/README.md "
                      f"(skipping that backend)", file=sys.stderr)
                continue
            workers[b] = Worker(b, pythons[b], args.threads, args.clock)
        for b, w in workers.items():
            print(f"# {b}: python {w.info['python']}, torch {w.info['torch']} "
                  f"({w.info['threads']} threads), pyro {w.info['pyro']}", file=sys.stderr)
        rows = []
        for name in names:
            print(f"# {name} ...", file=sys.stderr, flush=True)
            results = measure(name, workers, args.rounds, args.repeat, args.min_time)
            for b in backends:
                results.setdefault(b, {"cell": "n/a (no environment)"})
            rows.append((name, results))
    finally:
        for w in workers.values():
            w.close()

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    threads = sorted({w.info["threads"] for w in workers.values()})
    print(f"\n{stamp}, {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs; "
          f"median µs per call ({args.clock} clock, torch threads {threads}) "
          f"over {args.rounds} rounds x {args.repeat} timings\n")
    print(table(rows, backends, cases))
    if args.json:
        payload = {
            "date": stamp, "argv": sys.argv[1:],
            "backends": {b: w.info for b, w in workers.items()},
            "cases": {name: {"target": cases[name].target,
                             "results": {b: {k: v for k, v in res.items()} for b, res in results.items()}}
                      for name, results in rows},
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
