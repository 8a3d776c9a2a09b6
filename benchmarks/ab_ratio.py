"""Ours/torch time ratio of one benchmark case, for A/B runs against another checkout.

Each run measures, in one process, ``rounds`` interleaved rounds of the case's pyro-API step
(ours) and its hand-written torch twin, and prints the median ratio. To compare two commits,
alternate runs of this script with and without the other checkout's sources first on the path::

    OLD=$(ls -d /tmp/old/packages/*/src | tr '\\n' ':')
    PYTHONPATH=$OLD python benchmarks/ab_ratio.py infer svi_mixture_enum 200
    python benchmarks/ab_ratio.py infer svi_mixture_enum 200

Arguments: the module of ``benchmarks/cases`` (``core``, ``infer``, ``flows``, ...), the case's
function name, and how many calls one timing makes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module")
    parser.add_argument("case")
    parser.add_argument("calls", type=int)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch

    torch.set_num_threads(1)
    import pyro

    case = getattr(importlib.import_module(f"cases.{args.module}"), args.case)
    ours, twin = case.pyro_setup(), case.torch_setup()
    for _ in range(max(3, args.calls // 5)):
        ours()
        twin()
    ratios = []
    for _ in range(args.rounds):
        start = time.process_time()
        for _ in range(args.calls):
            ours()
        mine = time.process_time() - start
        start = time.process_time()
        for _ in range(args.calls):
            twin()
        ratios.append(mine / (time.process_time() - start))
    print(f"{args.case} ({os.path.dirname(pyro.__file__)}): ours/torch median "
          f"{statistics.median(ratios):.3f} over {args.rounds} rounds")


if __name__ == "__main__":
    main()
