"""Effective samples per second of the MCMC cases, for one backend (the Python running it).

    python benchmarks/mcmc_ess.py [--jit] [--threads 1] [--clock cpu] [-k eight_schools]

Prints one JSON line per case: wall seconds (from ``MCMC(...)`` to the samples), samples per
second, the minimum ESS over latents and ESS per second. With ``--clock cpu`` it also prints
the process CPU seconds of the run and ESS per CPU second (steadier than wall time on a
shared machine). Run it with this repo's Python and
with the pyro-ppl 1.9.2 environment's, one after the other, and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jit", action="store_true", help="NUTS(jit_compile=True)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chains", default="1,4")
    parser.add_argument("-k", default="", help="substring of the model names to run")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: also report process CPU seconds and ESS per CPU second")
    args = parser.parse_args()
    import pyro
    import torch

    from cases.mcmc import MODELS, SAMPLES, run_and_ess

    torch.set_num_threads(args.threads)
    for name in MODELS:
        if args.k not in name:
            continue
        for chains in map(int, args.chains.split(",")):
            pyro.set_rng_seed(0)
            start, cpu_start = time.perf_counter(), time.process_time()
            _, ess = run_and_ess(name, chains, jit_compile=args.jit)
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            row = {"pyro": pyro.__version__, "model": name, "chains": chains, "jit": args.jit,
                   "wall_s": round(wall, 2), "samples_per_s": round(SAMPLES * chains / wall, 1),
                   "min_ess": round(ess, 1), "ess_per_s": round(ess / wall, 2)}
            if args.clock == "cpu":
                row.update(cpu_s=round(cpu, 2), ess_per_cpu_s=round(ess / cpu, 2))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
