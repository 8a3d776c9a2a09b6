"""Worker processes of the two-process tests in test_optim_distributed.py (spawned, so importable)."""

import datetime
import os
import time
import traceback

import torch
import torch.distributed as dist
from torch.distributions import constraints

import pyro
import pyro.optim
import pyro.poutine as poutine

DATA = torch.tensor([0.3, -1.2, 2.5, 0.7, 1.9, -0.4, 3.1, 0.0])
STEPS = 12
LATE = 6  # a parameter that first appears at this step


def model(data, idx, step):
    """Gaussian log-likelihood of the data under a plate of the full size; deterministic."""
    loc = pyro.param("loc", torch.tensor(0.0))
    scale = pyro.param("scale", torch.tensor(1.0), constraint=constraints.positive)
    shift = pyro.param("shift", torch.tensor(0.25)) if step >= LATE else 0.0
    with pyro.plate("data", len(data), subsample=idx) as i:
        x = data[i]
        pyro.factor("obs", -0.5 * ((x - loc - shift) / scale) ** 2 - scale.log())


def make_optim():
    return pyro.optim.Adam({"lr": 0.05})


def map_step(optim, data, idx, step):
    tr = poutine.trace(model).get_trace(data, idx, step)
    loss = -tr.log_prob_sum()
    loss.backward()
    params = [site["value"].unconstrained() for site in tr.nodes.values() if site["type"] == "param"]
    optim(params)
    return loss.item()


def train_single_process():
    optim = make_optim()
    for step in range(STEPS):
        map_step(optim, DATA, None, step)
    return {name: p.detach().clone() for name, p in pyro.get_param_store().named_parameters()}


def _init(rank, world_size, port, timeout_s):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))
    pyro.set_rng_seed(100 + rank)  # ranks seeded differently, as in real data-parallel runs
    pyro.clear_param_store()


def worker(rank, world_size, port, out_dir):
    """Train on this rank's half of the data, then exercise the failure modes.

    1. MAP training with a parameter that first appears mid-training;
    2. a parameter whose initial value differs between ranks;
    3. a scheduler metric averaged across ranks;
    4. ranks that disagree on the parameters of a step;
    5. rank 1 dies; rank 0's next step must fail with a clear error, not hang.
    """
    result = {}
    try:
        _init(rank, world_size, port, 10)
        optim = pyro.optim.DistributedOptimizer(make_optim(), bucket_cap_mb=1e-6)  # a bucket per tensor
        half = len(DATA) // world_size
        idx = torch.arange(rank * half, (rank + 1) * half)
        for step in range(STEPS):
            map_step(optim, DATA, idx, step)
        result["params"] = {n: p.detach().clone() for n, p in pyro.get_param_store().named_parameters()}

        noisy = pyro.param("noisy", torch.randn(3))
        (noisy ** 2).sum().backward()
        optim([noisy.unconstrained()])
        gathered = [torch.empty(3) for _ in range(world_size)]
        dist.all_gather(gathered, pyro.param("noisy").detach().clone())
        result["noisy"] = torch.stack(gathered)

        plateau = pyro.optim.DistributedOptimizer(pyro.optim.ReduceLROnPlateau(
            {"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}}))
        w = pyro.param("plateau_w", torch.zeros(1))
        w.sum().backward()
        plateau([w.unconstrained()])
        plateau.step(2.0 * rank)  # the metric is averaged across ranks: 1.0 everywhere
        (scheduler,) = set(plateau.optim_objs.values())
        result["plateau_best"] = scheduler.best

        extra = [pyro.param("only_on_rank1", torch.zeros(2))] if rank == 1 else []
        params = [pyro.param("loc")] + extra
        sum(p.sum() for p in params).backward()
        try:
            optim([p.unconstrained() for p in params])
            result["disagreement"] = "no error"
        except pyro.optim.DistributedTrainingError as e:
            result["disagreement"] = str(e)
        dist.barrier()

        if rank == 1:
            torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
            os._exit(3)  # dies without a word
        time.sleep(0.2)
        start = time.monotonic()
        try:
            map_step(optim, DATA, idx, STEPS)
            result["death"] = "no error"
        except pyro.optim.DistributedTrainingError as e:
            result["death"] = str(e)
        result["death_seconds"] = time.monotonic() - start
    except Exception:
        result["error"] = traceback.format_exc()
    torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    os._exit(0)  # the group's peer is gone: skip tearing it down
