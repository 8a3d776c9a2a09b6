"""Chains of :class:`~pyro.infer.mcmc.MCMC` in worker processes (``MCMC(mp_context=...)``).

Each chain runs as a one-chain ``MCMC`` in its own process, started with the requested
multiprocessing context and seeded from the parent's generator (so a seeded run repeats). A
worker talks to the parent over its own one-way pipe, sending plain-pickled bytes (never
shared-memory tensors, which would not outlive a dead worker): progress now and then, then
either its samples (in their supports) and diagnostics, or the error it raised with its
traceback.

The parent waits on every pipe with a timeout, so it never blocks on one chain: a worker that
raises ends the run with a :class:`ChainError` naming the chain and carrying the original
message; a worker that dies (killed, crashed) closes its pipe, which the parent sees at once,
and ends the run the same way with the exit code. Either way the other workers are
terminated before :func:`run_chains_in_processes` returns.
"""

from __future__ import annotations

import multiprocessing
import pickle
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Dict, List, Optional, Tuple

import torch

from pyro.infer.mcmc.progress import progress_bar

__all__ = ["ChainError", "run_chains_in_processes"]

Params = Dict[str, torch.Tensor]

#: How often (seconds) the parent looks at worker liveness while no message arrives.
POLL_INTERVAL = 0.2
#: How long a worker whose process has ended may still take to deliver its last message.
EXIT_GRACE = 2.0
#: How often a worker reports progress.
PROGRESS_INTERVAL = 0.25


class ChainError(RuntimeError):
    """A chain run in a worker process failed (raised, or its process died)."""

    def __init__(self, chain: int, message: str) -> None:
        super().__init__(message)
        self.chain = chain


def _context(mp_context: Any) -> Any:
    if isinstance(mp_context, str):
        methods = multiprocessing.get_all_start_methods()
        if mp_context not in methods:
            raise ValueError(f"MCMC: mp_context={mp_context!r} is not a start method here; "
                             f"use one of {methods}")
        ctx = multiprocessing.get_context(mp_context)
        if mp_context == "forkserver":  # the server imports torch and pyro once, not per chain
            ctx.set_forkserver_preload(["pyro.infer.mcmc.parallel"])
        return ctx
    if hasattr(mp_context, "Process") and hasattr(mp_context, "Pipe"):
        return mp_context
    raise TypeError(f"MCMC: mp_context must be 'spawn', 'fork', 'forkserver' or a "
                    f"multiprocessing context, got {type(mp_context).__name__}")


def _send(conn: Connection, message: Tuple[Any, ...]) -> None:
    conn.send_bytes(pickle.dumps(message))


def _worker(chain: int, seed: int, payload: bytes, conn: Connection) -> None:
    """Run one chain (the target of every worker process)."""
    try:
        import pyro

        pyro.set_rng_seed(seed)
        config = pickle.loads(payload)
        init = config["initial_params"]
        if init is not None and config["num_chains"] > 1:
            init = {k: v[chain] for k, v in init.items()}
        user_hook = config["hook_fn"]
        total = config["warmup_steps"] + config["num_samples"]
        last = [0.0]

        def hook(kernel: Any, params: Params, stage: str, i: int) -> None:
            if user_hook is not None:
                user_hook(kernel, params, stage, i)
            if config["progress"]:
                done = i + 1 + (config["warmup_steps"] if stage == "Sample" else 0)
                now = time.monotonic()
                if now - last[0] >= PROGRESS_INTERVAL or done == total:
                    last[0] = now
                    _send(conn, ("progress", done, stage, kernel.logging()))

        mcmc = config["runner"](  # the MCMC class, passed in by the runner (no import cycle)
            config["kernel"], config["num_samples"], warmup_steps=config["warmup_steps"],
            initial_params=init, num_chains=1, hook_fn=hook, disable_progbar=True,
            disable_validation=config["disable_validation"], transforms=config["transforms"],
            save_params=config["save_params"])
        mcmc.run(*config["args"], **config["kwargs"])
        samples = {k: v[0] for k, v in mcmc._samples.items()}
        _send(conn, ("done", samples, mcmc._diagnostics[0]))
    except BaseException as e:  # everything goes back to the parent, with its traceback
        try:
            _send(conn, ("error", type(e).__name__, str(e), traceback.format_exc()))
        except Exception:
            pass
    finally:
        conn.close()


def _payload(mcmc: Any, base: Optional[Params], args: tuple, kwargs: dict, runner: type) -> bytes:
    config = {"runner": runner, "kernel": mcmc.kernel, "num_samples": mcmc.num_samples,
              "warmup_steps": mcmc.warmup_steps, "initial_params": base,
              "num_chains": mcmc.num_chains, "hook_fn": mcmc.hook_fn,
              "disable_validation": mcmc.disable_validation, "transforms": mcmc.transforms,
              "save_params": mcmc.save_params, "args": args, "kwargs": kwargs,
              "progress": not mcmc.disable_progbar}
    try:
        return pickle.dumps(config)
    except Exception as e:
        raise TypeError(f"MCMC(mp_context={mcmc.mp_context!r}): the kernel (with its model), "
                        f"hook_fn and the model's arguments must pickle to run in worker "
                        f"processes: {type(e).__name__}: {e}") from e


def _stop(processes: List[Any]) -> None:
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 2.0
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


def run_chains_in_processes(mcmc: Any, base: Optional[Params], args: tuple, kwargs: dict,
                            runner: type) -> Tuple[Params, List[Dict[str, Any]]]:
    """Run the chains of ``mcmc`` in worker processes; each worker builds a one-chain
    ``runner`` (the ``MCMC`` class) from the pickled settings.

    Returns:
        ``(samples, diagnostics)``: ``site -> (chains, draws) + shape`` in the sites' supports,
        and one diagnostics dict per chain.

    Raises:
        ChainError: a chain raised (its type, message and traceback are in the message) or its
            worker process died.
    """
    ctx = _context(mcmc.mp_context)
    payload = _payload(mcmc, base, args, kwargs, runner)
    n = mcmc.num_chains
    seeds = torch.randint(0, 2 ** 62, (n,)).tolist()
    total = mcmc.warmup_steps + mcmc.num_samples
    processes, readers = [], {}
    results: Dict[int, Tuple[Params, Dict[str, Any]]] = {}
    bars = [progress_bar(total, f"Warmup [{c}]", mcmc.disable_progbar) for c in range(n)]
    try:
        for c in range(n):
            reader, writer = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker, args=(c, seeds[c], payload, writer),
                            name=f"pyro-mcmc-chain-{c}", daemon=True)
            p.start()
            writer.close()  # the worker holds the only write end: its death closes the pipe
            processes.append(p)
            readers[reader] = c
        ended_at: Dict[int, float] = {}
        while readers:
            for reader in wait(list(readers), timeout=POLL_INTERVAL):
                c = readers[reader]
                try:
                    message = pickle.loads(reader.recv_bytes())
                except (EOFError, OSError):
                    del readers[reader]
                    if c not in results:
                        processes[c].join(1.0)
                        raise ChainError(c, f"MCMC: chain {c}'s worker process died (exit code "
                                            f"{processes[c].exitcode}) before returning its "
                                            f"samples")
                    continue
                kind = message[0]
                if kind == "progress":
                    _show_progress(bars[c], c, message[1], message[2], message[3],
                                   mcmc.warmup_steps)
                elif kind == "done":
                    results[c] = (message[1], message[2])
                    _show_progress(bars[c], c, total, "Sample", None, mcmc.warmup_steps)
                elif kind == "error":
                    _, name, text, trace = message
                    raise ChainError(c, f"MCMC: chain {c} failed with {name}: {text}\n\n"
                                        f"Traceback in the worker process:\n{trace}")
            now = time.monotonic()
            for reader, c in list(readers.items()):
                if processes[c].exitcode is None or c in results:
                    continue
                ended_at.setdefault(c, now)
                if now - ended_at[c] > EXIT_GRACE:
                    raise ChainError(c, f"MCMC: chain {c}'s worker process died (exit code "
                                        f"{processes[c].exitcode}) before returning its samples")
            for reader, c in list(readers.items()):
                if c in results:
                    del readers[reader]
                    reader.close()
    finally:
        for bar in bars:
            if bar is not None:
                bar.close()
        _stop(processes)
        for reader in readers:
            reader.close()
    names = list(results[0][0])
    samples = {k: torch.stack([results[c][0][k] for c in range(n)]) for k in names}
    return samples, [results[c][1] for c in range(n)]


def _show_progress(bar: Any, chain: int, done: int, stage: str, info: Optional[Dict[str, str]],
                   warmup_steps: int) -> None:
    if bar is None:
        return
    if done > warmup_steps:
        bar.set_description(f"Sample [{chain}]", refresh=False)
    if info:
        bar.set_postfix(info, refresh=False)
    bar.update(done - bar.n)
