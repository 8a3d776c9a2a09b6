"""Data-parallel training on :mod:`torch.distributed`: average gradients across ranks, then step.

Every rank runs the same program on its own share of the data; before each step the gradients of
the step's parameters are averaged across ranks, so every rank takes the same step and the
parameters stay identical everywhere. See ``docs/optim.md`` for a complete script.
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any, Dict, Iterable, List, Tuple

import torch
import torch.distributed as dist

import pyro

DEFAULT_BUCKET_CAP_MB = 25.0


class DistributedTrainingError(RuntimeError):
    """A collective failed or the ranks disagree (a rank died, timed out, or ran another model)."""


class DistributedOptimizer:
    """Average gradients across the ranks of a process group before each step of ``pyro_optim``.

    Call it exactly as the wrapped optimizer (SVI does): ``optim(params)`` after ``backward()``.
    At every step it

    1. checks that every rank steps the same parameters (names, shapes and dtypes), and raises
       :class:`DistributedTrainingError` on every rank if they do not, naming the difference;
    2. copies the values of parameters seen for the first time from rank 0 to the other ranks,
       so ranks never drift apart even if initial values were drawn with different seeds (the
       first gradient is still taken at each rank's own initial value: initialise identically,
       e.g. with constants, for results that match one process exactly);
    3. averages the gradients with a few all-reduces over flat buckets of about
       ``bucket_cap_mb`` megabytes each (one per device and dtype at least), not one per tensor;
       a parameter that has a gradient on some ranks only counts as zero on the others;
    4. steps ``pyro_optim``.

    Averaging is right when each rank's loss estimates the full-data loss, e.g. a plate of the
    full data size that subsamples this rank's share (log-densities are scaled by
    ``size / subsample size``). A plate with ``subsample_size`` draws its minibatch from the
    torch random generator, so ranks seeded differently (``pyro.set_rng_seed(seed + rank)``)
    draw different minibatches.

    The wait for another rank is bounded by the process group's ``timeout``
    (``init_process_group(..., timeout=...)``); a rank that died or timed out makes the others
    raise :class:`DistributedTrainingError` instead of hanging.

    Args:
        pyro_optim: the :class:`~pyro.optim.PyroOptim` (or scheduler) to step.
        process_group: the group to average over; ``None`` is the default group, which must
            already be initialised.
        bucket_cap_mb: size of the gradient buckets in megabytes.

    Attributes and methods of ``pyro_optim`` (``get_state``, ``save``, ``step`` of schedulers,
    ...) are reachable through the wrapper. Save from one rank only (``if rank == 0``).
    """

    def __init__(self, pyro_optim: Any, process_group: Any = None,
                 bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB) -> None:
        if not dist.is_available():
            raise RuntimeError("DistributedOptimizer needs torch.distributed, which this torch build lacks")
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedOptimizer: torch.distributed is not initialised; call "
                "torch.distributed.init_process_group(...) first (torchrun sets up the environment)"
            )
        if not callable(pyro_optim):
            raise TypeError(f"DistributedOptimizer wraps a PyroOptim, got {type(pyro_optim).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.optim = pyro_optim
        self.process_group = process_group
        self.bucket_cap_bytes = int(bucket_cap_mb * 1024 * 1024)
        self.rank = dist.get_rank(process_group)
        self.world_size = dist.get_world_size(process_group)
        self._src = dist.get_global_rank(process_group, 0) if process_group is not None else 0
        backend = dist.get_backend(process_group)
        self._comm_device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" \
            else torch.device("cpu")
        self._known: set = set()
        self._step = 0

    def __getattr__(self, name: str) -> Any:
        if name == "optim":
            raise AttributeError(name)
        return getattr(self.optim, name)

    # ----- collectives with clear errors ------------------------------------------------------
    def _failure(self, what: str, likely: str, error: Exception) -> DistributedTrainingError:
        """The error to raise when ``what`` failed with ``error``, ``likely`` being the probable cause."""
        first_line = str(error).splitlines()[0] if str(error) else ""
        return DistributedTrainingError(
            f"DistributedOptimizer on rank {self.rank} of {self.world_size}: {what} failed at "
            f"step {self._step}; another rank probably {likely} ({type(error).__name__}: {first_line})"
        )

    def _collective(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, group=self.process_group, **kwargs)
        except Exception as e:
            raise self._failure(what, "died, timed out or stopped calling the optimizer", e) from e

    def _wait(self, work: Any) -> None:
        try:
            work.wait()
        except Exception as e:
            raise self._failure("averaging gradients", "died or timed out", e) from e

    # ----- stepping ---------------------------------------------------------------------------
    def __call__(self, params: Iterable[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        """Average the gradients of ``params`` across ranks, then step the wrapped optimizer."""
        named = self._named(params)
        self._check_agreement(named)
        new = [(n, p) for n, p in named if n not in self._known]
        if new and self.world_size > 1:
            self._broadcast_values([p for _, p in new])
        self._known.update(n for n, _ in new)
        if self.world_size > 1:
            self._average_grads([p for _, p in named])
        self._step += 1
        return self.optim([p for _, p in named], *args, **kwargs)

    def _named(self, params: Iterable[torch.Tensor]) -> List[Tuple[str, torch.Tensor]]:
        store = pyro.get_param_store()
        named: Dict[str, torch.Tensor] = {}
        for p in params:
            name = store.param_name(p)
            if name is None:
                raise ValueError(
                    f"DistributedOptimizer: a tensor of shape {tuple(p.shape)} is not in the param "
                    f"store; ranks match parameters by their store names"
                )
            named[name] = p
        return sorted(named.items())

    def _check_agreement(self, named: List[Tuple[str, torch.Tensor]]) -> None:
        digest = hashlib.blake2b(digest_size=7)
        for name, p in named:
            digest.update(f"{name}|{tuple(p.shape)}|{p.dtype};".encode())
        mine = torch.tensor([len(named), int.from_bytes(digest.digest(), "big")], dtype=torch.int64,
                            device=self._comm_device)
        gathered = [torch.empty_like(mine) for _ in range(self.world_size)]
        self._collective("checking the step's parameters", dist.all_gather, gathered, mine)
        if all(torch.equal(g, mine) for g in gathered):
            return
        described = "\n".join(f"{n}{list(p.shape)}:{str(p.dtype).replace('torch.', '')}" for n, p in named)
        everyone = [text.split("\n") if text else [] for text in self._all_gather_text(described)]
        raise DistributedTrainingError(self._disagreement(everyone))

    def _all_gather_text(self, text: str) -> List[str]:
        """Gather one string from every rank (as padded byte tensors: no pickling, no numpy)."""
        data = torch.tensor(list(text.encode()), dtype=torch.uint8, device=self._comm_device)
        size = torch.tensor([data.numel()], dtype=torch.int64, device=self._comm_device)
        sizes = [torch.empty_like(size) for _ in range(self.world_size)]
        self._collective("comparing parameters", dist.all_gather, sizes, size)
        longest = int(max(int(n) for n in sizes))
        padded = torch.zeros(longest, dtype=torch.uint8, device=self._comm_device)
        padded[: data.numel()] = data
        gathered = [torch.empty_like(padded) for _ in range(self.world_size)]
        self._collective("comparing parameters", dist.all_gather, gathered, padded)
        return [bytes(g[: int(n)].tolist()).decode() for g, n in zip(gathered, sizes)]

    def _disagreement(self, everyone: List[List[str]]) -> str:
        reference = set(everyone[0])
        lines = []
        for r, names in enumerate(everyone):
            extra = sorted(set(names) - reference)
            missing = sorted(reference - set(names))
            if extra or missing:
                lines.append(f"rank {r} has {extra or 'nothing more'} that rank 0 lacks and lacks "
                             f"{missing or 'nothing'} that rank 0 has")
        return (
            f"DistributedOptimizer: ranks disagree on the parameters of step {self._step} "
            f"(name[shape]:dtype): " + "; ".join(lines) + ". Every rank must run the same model and "
            "guide, so that the same parameters appear at the same step."
        )

    def _buckets(self, tensors: List[torch.Tensor]) -> List[List[int]]:
        """Split indices of ``tensors`` into buckets of one device and dtype, each at most the cap
        (a tensor larger than the cap gets a bucket of its own)."""
        buckets: List[List[int]] = []
        open_: Dict[Tuple[Any, Any], Tuple[List[int], int]] = {}
        for i, t in enumerate(tensors):
            key = (t.device, t.dtype)
            size = t.numel() * t.element_size()
            current, used = open_.get(key, ([], 0))
            if current and used + size > self.bucket_cap_bytes:
                buckets.append(current)
                current, used = [], 0
            current.append(i)
            open_[key] = (current, used + size)
        buckets.extend(b for b, _ in open_.values() if b)
        return buckets

    def _broadcast_values(self, params: List[torch.Tensor]) -> None:
        with torch.no_grad():
            for bucket in self._buckets(params):
                members = [params[i] for i in bucket]
                flat = torch.cat([p.detach().reshape(-1) for p in members])
                self._collective("copying new parameters from rank 0", dist.broadcast, flat, self._src)
                for p, chunk in zip(members, flat.split([p.numel() for p in members])):
                    p.copy_(chunk.view_as(p))

    def _average_grads(self, params: List[torch.Tensor]) -> None:
        for p in params:
            if p.grad is not None and p.grad.is_sparse:
                raise ValueError("DistributedOptimizer does not average sparse gradients")
        buckets = self._buckets(params)
        if not buckets:
            return
        with torch.no_grad():
            flats = []
            for k, bucket in enumerate(buckets):
                members = [params[i] for i in bucket]
                pieces = [p.grad.reshape(-1) if p.grad is not None
                          else torch.zeros(p.numel(), dtype=p.dtype, device=p.device) for p in members]
                if k == 0:
                    # one has-a-gradient flag per parameter rides along with the first bucket
                    first = members[0]
                    pieces.append(torch.tensor([float(p.grad is not None) for p in params],
                                               dtype=first.dtype, device=first.device))
                flats.append(torch.cat(pieces))
            works = [self._collective("averaging gradients", dist.all_reduce, flat, async_op=True)
                     for flat in flats]
            for work in works:
                self._wait(work)
            flags = flats[0][-len(params):]
            has_grad = (flags > 0).tolist()
            for k, bucket in enumerate(buckets):
                members = [params[i] for i in bucket]
                flat = flats[k]
                flat.div_(self.world_size)
                sizes = [p.numel() for p in members]
                if k == 0:
                    sizes.append(len(params))
                for i, p, chunk in zip(bucket, members, flat.split(sizes)):
                    if not has_grad[i]:
                        p.grad = None
                    elif p.grad is None:
                        p.grad = chunk.view_as(p).clone()
                    else:
                        p.grad.copy_(chunk.view_as(p))

    def step(self, *args: Any, **kwargs: Any) -> Any:
        """Advance the wrapped scheduler, averaging a metric (e.g. ReduceLROnPlateau's loss) across
        ranks first so every rank's schedule stays the same."""
        args = tuple(self._average_metric(a) for a in args)
        if "metrics" in kwargs:
            kwargs["metrics"] = self._average_metric(kwargs["metrics"])
        return self.optim.step(*args, **kwargs)

    def _average_metric(self, value: Any) -> Any:
        if self.world_size == 1 or isinstance(value, bool):
            return value
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            t = value.detach().to(self._comm_device, torch.float64).reshape(1).clone()
        elif isinstance(value, numbers.Real):
            t = torch.tensor([float(value)], dtype=torch.float64, device=self._comm_device)
        else:
            return value
        self._collective("averaging the scheduler metric", dist.all_reduce, t)
        mean = t.item() / self.world_size
        return mean if not isinstance(value, torch.Tensor) else torch.tensor(mean, dtype=value.dtype)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optim!r}, rank={self.rank}, world_size={self.world_size})"


__all__ = ["DEFAULT_BUCKET_CAP_MB", "DistributedOptimizer", "DistributedTrainingError"]
