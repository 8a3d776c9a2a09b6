"""``MCMC``: runs a kernel for several chains, collects the samples, summarises them.

Several NUTS chains of a model run as one batch (the chain as a batch dim of the model, trees
built in lockstep: :mod:`~pyro.infer.mcmc.vectorized`) when the model allows it; otherwise,
and for every other kernel, chains run one after another in this process (each with its own
warm-up). Samples are kept in unconstrained space while running and mapped to their supports
once at the end. With ``mp_context`` the chains run in worker processes instead
(:mod:`~pyro.infer.mcmc.parallel`). :class:`StreamingMCMC` keeps streaming statistics of the
draws (:mod:`pyro.ops.streaming`) instead of the draws.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional

import torch

from pyro.infer.arg_checks import check_count
from pyro.infer.mcmc.mcmc_kernel import MCMCKernel
from pyro.infer.mcmc.progress import progress_bar
from pyro.infer.mcmc.util import diagnostics, print_summary, select_samples
from pyro.ops.stats import check_probability

__all__ = ["MCMC", "StreamingMCMC"]

Params = Dict[str, torch.Tensor]


class MCMC:
    """Run an MCMC kernel (e.g. :class:`~pyro.infer.mcmc.NUTS`) and keep its samples.

    Args:
        kernel: an :class:`~pyro.infer.mcmc.mcmc_kernel.MCMCKernel`.
        num_samples: the number of samples kept per chain.
        warmup_steps: the number of warm-up (adaptation) steps per chain (default:
            ``num_samples``).
        initial_params: unconstrained initial values (with a leading chain dim when
            ``num_chains > 1``).
        num_chains: the number of independent chains (run one after another).
        hook_fn: ``hook_fn(kernel, params, stage, i)`` called after every step, with stage
            ``"Warmup"`` or ``"Sample"``.
        mp_context: ``"spawn"``, ``"fork"`` or ``"forkserver"`` (or a multiprocessing
            context): run each chain in its own worker process
            (:mod:`~pyro.infer.mcmc.parallel`); the model, kernel and ``hook_fn`` must then
            pickle. ``None``: chains run in this process, as one batch when they can.
        disable_progbar: no progress bar.
        disable_validation: run with distribution validation off (divergent trajectories
            reach invalid values).
        transforms: ``site -> transform`` to the unconstrained space (default: the
            kernel's).
        save_params: the sites to keep (default: all).
    """

    def __init__(self, kernel: MCMCKernel, num_samples: int, warmup_steps: Optional[int] = None,
                 initial_params: Optional[Params] = None, num_chains: int = 1,
                 hook_fn: Optional[Callable] = None, mp_context: Any = None,
                 disable_progbar: bool = False, disable_validation: bool = True,
                 transforms: Optional[Dict[str, Any]] = None,
                 save_params: Optional[List[str]] = None) -> None:
        if not isinstance(kernel, MCMCKernel):
            raise TypeError(f"MCMC: kernel must be an MCMCKernel, got {type(kernel).__name__}")
        if int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"MCMC: num_samples must be a positive integer, got {num_samples!r}")
        if num_chains < 1:
            raise ValueError(f"MCMC: num_chains must be positive, got {num_chains!r}")
        self.kernel = kernel
        self.num_samples = int(num_samples)
        self.warmup_steps = self.num_samples if warmup_steps is None else int(warmup_steps)
        self.num_chains = num_chains
        self.hook_fn = hook_fn
        self.mp_context = mp_context
        self.disable_progbar = disable_progbar
        self.disable_validation = disable_validation
        self.transforms = transforms
        self.save_params = save_params
        self.initial_params = initial_params
        if initial_params is not None:
            self._validate_initial_params(initial_params)
        self._samples: Optional[Params] = None
        self._diagnostics: List[Dict[str, Any]] = []
        self._args: tuple = ()
        self._kwargs: dict = {}

    def _validate_initial_params(self, initial_params: Params) -> None:
        for name, value in initial_params.items():
            if self.num_chains > 1 and (value.dim() == 0 or value.shape[0] != self.num_chains):
                raise ValueError(
                    f"MCMC: initial_params['{name}'] has shape {tuple(value.shape)}; with "
                    f"num_chains={self.num_chains} it needs a leading dim of that size")

    def _chain_initial_params(self, chain: int, base: Optional[Params]) -> Optional[Params]:
        if base is None:
            return None
        if self.num_chains == 1:
            return base
        return {k: v[chain] for k, v in base.items()}

    def _run_chain(self, chain: int, base: Optional[Params], args: tuple, kwargs: dict,
                   sink: Optional[Callable[[Params], None]] = None) -> Params:
        """Run chain ``chain``; its kept draws go to ``sink`` (unconstrained, one dict per
        draw) when given, else are returned stacked."""
        kernel = self.kernel
        init = self._chain_initial_params(chain, base)
        if init is not None or getattr(kernel, "model", None) is not None:
            kernel.initial_params = init
        kernel.setup(self.warmup_steps, *args, **kwargs)
        params = kernel.initial_params
        if params is None:
            raise ValueError("MCMC: the kernel has no initial_params after setup")
        total = self.warmup_steps + self.num_samples
        label = f" [{chain}]" if self.num_chains > 1 else ""
        bar = progress_bar(total, "Warmup" + label, self.disable_progbar)
        keep = self.save_params
        draws: List[Params] = []
        hook = self.hook_fn
        try:
            for i in range(total):
                warm = i < self.warmup_steps
                params = kernel.sample(params)
                if not warm:
                    kept = {k: v for k, v in params.items() if keep is None or k in keep}
                    if sink is None:
                        draws.append(kept)
                    else:
                        sink(kept)
                if hook is not None:
                    hook(kernel, params, "Warmup" if warm else "Sample",
                         i if warm else i - self.warmup_steps)
                if bar is not None:
                    if i == self.warmup_steps:
                        bar.set_description("Sample" + label, refresh=False)
                    info = kernel.logging()
                    if info:
                        bar.set_postfix(info, refresh=False)
                    bar.update()
            self._diagnostics.append(kernel.diagnostics())
        finally:
            if bar is not None:
                bar.close()
            kernel.cleanup()
        names = list(draws[0]) if draws else []
        return {k: torch.stack([d[k] for d in draws]) for k in names}

    def _base_params(self) -> Optional[Params]:
        """The initial params every chain starts from: the runner's, or for a
        ``potential_fn`` kernel the kernel's own (repeated per chain)."""
        base = self.initial_params
        if base is None and getattr(self.kernel, "model", None) is None:
            base = getattr(self.kernel, "initial_params", None)
            if base is not None and self.num_chains > 1:
                base = {k: v.expand((self.num_chains,) + v.shape) for k, v in base.items()}
        return base

    def run(self, *args: Any, **kwargs: Any) -> None:
        """Run every chain on the model's arguments ``args``/``kwargs``."""
        import pyro

        self._args, self._kwargs = args, kwargs
        self._diagnostics = []
        base = self._base_params()
        validation = (pyro.validation_enabled(False) if self.disable_validation
                      else contextlib.nullcontext())
        chains = None
        self.vectorized = False
        if self.num_chains > 1 and self.mp_context is not None:
            from pyro.infer.mcmc.parallel import run_chains_in_processes

            samples, self._diagnostics = run_chains_in_processes(self, base, args, kwargs, runner=MCMC)
            self._samples = samples
            return
        with validation:
            if self.num_chains > 1 and self._can_vectorize():
                from pyro.infer.mcmc.vectorized import NotVectorizable

                try:
                    chains = self._run_vectorized(base, args, kwargs)
                    self.vectorized = True
                except NotVectorizable:
                    chains = None
            if chains is None:
                chains = [self._run_chain(chain, base, args, kwargs)
                          for chain in range(self.num_chains)]
        transforms = self.transforms
        if transforms is None:
            transforms = getattr(self.kernel, "transforms", None) or {}
        samples: Params = OrderedDict()
        for name in chains[0]:
            value = torch.stack([c[name] for c in chains])
            t = transforms.get(name)
            samples[name] = t.inv(value) if t is not None else value
        self._samples = samples

    def _can_vectorize(self) -> bool:
        from pyro.infer.mcmc.nuts import NUTS

        kernel = self.kernel
        return (type(kernel) is NUTS and kernel.model is not None and not kernel._jit_compile
                and kernel.use_multinomial_sampling)

    def _run_vectorized(self, base: Optional[Params], args: tuple, kwargs: dict
                        ) -> List[Params]:
        """Run every chain as one batch; raises ``NotVectorizable`` before any step when the
        model does not allow it."""
        from pyro.infer.mcmc.hmc import _Layout
        from pyro.infer.mcmc.util import initialize_model
        from pyro.infer.mcmc.vectorized import NotVectorizable, VectorizedNUTS, compiled_potential
        from pyro.infer.util import plate_nesting

        kernel = self.kernel
        init, potential_fn, transforms, prototype = initialize_model(
            kernel.model, args, kwargs, transforms=kernel.transforms,
            max_plate_nesting=kernel._max_plate_nesting, num_chains=self.num_chains,
            init_strategy=kernel._init_strategy, initial_params=base)
        if potential_fn.enumerated:
            raise NotVectorizable("enumerated sites")
        layout = _Layout({k: v[0] for k, v in init.items()})
        z = torch.stack([layout.flatten({k: v[c] for k, v in init.items()})
                         for c in range(self.num_chains)]).detach()
        batched, energy_and_grad = compiled_potential(potential_fn, prototype, layout,
                                                      self.num_chains, plate_nesting(prototype), z)
        kernel.potential_fn, kernel.transforms = potential_fn, transforms
        runner = VectorizedNUTS(kernel, batched, z, self.warmup_steps, energy_and_grad,
                                num_samples=self.num_samples)
        total = self.warmup_steps + self.num_samples
        bar = progress_bar(total, "Warmup", self.disable_progbar)
        hook = self.hook_fn
        draws = []
        try:
            for i in range(total):
                warm = i < self.warmup_steps
                zs = runner.sample()
                if not warm:
                    draws.append(zs)
                if hook is not None:
                    for c in range(self.num_chains):
                        hook(kernel, layout.unflatten(zs[c]), "Warmup" if warm else "Sample",
                             i if warm else i - self.warmup_steps)
                if bar is not None:
                    if i == self.warmup_steps:
                        bar.set_description("Sample", refresh=False)
                    steps = [a.step_size for a in runner.adapters]
                    bar.set_postfix({"step size": "{:.2e}".format(sum(steps) / len(steps)),
                                     "acc. prob": "{:.3f}".format(
                                         sum(runner.mean_accept) / len(steps))}, refresh=False)
                    bar.update()
        finally:
            if bar is not None:
                bar.close()
        # The kernel's own properties (step_size, inverse_mass_matrix) read chain 0's state.
        kernel._layout, kernel._mass = layout, runner.masses[0]
        kernel._adapter.step_size = runner.adapters[0].step_size
        self._diagnostics = [
            {"divergences": runner.divergences[c],
             "acceptance rate": runner.accept_cnt[c] / self.num_samples}
            for c in range(self.num_chains)]
        stacked = torch.stack(draws, dim=1)  # (chains, draws, D)
        keep = self.save_params
        chains = []
        for c in range(self.num_chains):
            per_site = {name: part.reshape((self.num_samples,) + shape)
                        for name, part, shape in zip(layout.names,
                                                     stacked[c].split(layout.sizes, dim=-1),
                                                     layout.shapes)}
            chains.append({k: v for k, v in per_site.items() if keep is None or k in keep})
        return chains

    def get_samples(self, num_samples: Optional[int] = None,
                    group_by_chain: bool = False) -> Params:
        """The samples of every site, in their supports.

        Args:
            num_samples: a random subset of this many draws (all when ``None``).
            group_by_chain: keep the chain dim: shape ``(chains, draws) + site_shape``
                instead of ``(chains * draws,) + site_shape``.
        """
        if self._samples is None:
            raise RuntimeError("MCMC.get_samples: call run() first")
        if num_samples is not None:
            check_count("MCMC.get_samples", "num_samples", num_samples)
        samples = self._samples
        if not group_by_chain:
            samples = {k: v.reshape((-1,) + v.shape[2:]) for k, v in samples.items()}
        return select_samples(samples, num_samples, group_by_chain)

    def diagnostics(self) -> Dict[str, Any]:
        """``n_eff`` and ``r_hat`` of every site, and each chain's divergences and
        acceptance rate."""
        out: Dict[str, Any] = diagnostics(self.get_samples(group_by_chain=True))
        for i, diag in enumerate(self._diagnostics):
            for key, value in diag.items():
                out.setdefault(key, {})[f"chain {i}"] = value
        return out

    def summary(self, prob: float = 0.9) -> None:
        """Print the mean, std, median, ``prob`` interval, ``n_eff`` and ``r_hat`` of every
        site, and the number of divergences."""
        check_probability("MCMC.summary", "prob", prob, open_left=True, open_right=True)
        print_summary(self.get_samples(group_by_chain=True), prob=prob)
        diag = self.diagnostics()
        if "divergences" in diag:
            total = sum(len(v) for v in diag["divergences"].values())
            print(f"Number of divergences: {total}")


def _default_statistics() -> Any:
    from pyro.ops.streaming import CountMeanVarianceStats, StatsOfDict

    return StatsOfDict(default=CountMeanVarianceStats)


class StreamingMCMC(MCMC):
    """Run an MCMC kernel keeping only streaming statistics of the draws, not the draws.

    Chains run one after another in this process; every kept draw (in its support) updates
    that chain's copy of ``statistics`` and is dropped, so memory does not grow with
    ``num_samples``.

    Args:
        kernel, num_samples, warmup_steps, initial_params, num_chains, hook_fn,
        disable_progbar, disable_validation, transforms, save_params: as in :class:`MCMC`.
        statistics: a :class:`~pyro.ops.streaming.StreamingStats` over ``site -> tensor``
            dicts (default: ``StatsOfDict(default=CountMeanVarianceStats)``), copied for
            every chain.
    """

    def __init__(self, kernel: MCMCKernel, num_samples: int, warmup_steps: Optional[int] = None,
                 initial_params: Optional[Params] = None, statistics: Any = None,
                 num_chains: int = 1, hook_fn: Optional[Callable] = None,
                 disable_progbar: bool = False, disable_validation: bool = True,
                 transforms: Optional[Dict[str, Any]] = None,
                 save_params: Optional[List[str]] = None) -> None:
        super().__init__(kernel, num_samples, warmup_steps=warmup_steps,
                         initial_params=initial_params, num_chains=num_chains, hook_fn=hook_fn,
                         disable_progbar=disable_progbar, disable_validation=disable_validation,
                         transforms=transforms, save_params=save_params)
        from pyro.ops.streaming import StreamingStats

        if statistics is None:
            statistics = _default_statistics()
        if not isinstance(statistics, StreamingStats):
            raise TypeError(f"StreamingMCMC: statistics must be a StreamingStats, got "
                            f"{type(statistics).__name__}")
        self._statistics = statistics
        self._chain_stats: List[Any] = []

    def run(self, *args: Any, **kwargs: Any) -> None:
        """Run every chain on the model's arguments, updating the statistics."""
        import copy

        import pyro

        self._args, self._kwargs = args, kwargs
        self._diagnostics = []
        self._chain_stats = []
        base = self._base_params()
        validation = (pyro.validation_enabled(False) if self.disable_validation
                      else contextlib.nullcontext())
        kernel = self.kernel
        with validation:
            for chain in range(self.num_chains):
                stats = copy.deepcopy(self._statistics)
                self._chain_stats.append(stats)

                def sink(params: Params, stats: Any = stats) -> None:
                    transforms = self.transforms
                    if transforms is None:
                        transforms = getattr(kernel, "transforms", None) or {}
                    out = {}
                    for name, value in params.items():
                        t = transforms.get(name)
                        out[name] = t.inv(value) if t is not None else value
                    stats.update(out)

                self._run_chain(chain, base, args, kwargs, sink=sink)

    def get_samples(self, num_samples: Optional[int] = None,
                    group_by_chain: bool = False) -> Params:
        """Not available: :class:`StreamingMCMC` keeps no draws (use :meth:`get_statistics`)."""
        raise NotImplementedError("StreamingMCMC keeps no samples; use get_statistics()")

    def summary(self, prob: float = 0.9) -> None:
        """Not available: :class:`StreamingMCMC` keeps no draws (use :meth:`get_statistics`)."""
        raise NotImplementedError("StreamingMCMC keeps no samples; use get_statistics()")

    def get_statistics(self, group_by_chain: bool = True) -> Dict[Any, Any]:
        """The statistics of every site: ``{(chain, site): stats}`` with ``group_by_chain``,
        else the chains merged, ``{site: stats}``."""
        if not self._chain_stats:
            return {}
        if not group_by_chain:
            merged = self._chain_stats[0]
            for stats in self._chain_stats[1:]:
                merged = merged.merge(stats)
            return merged.get()
        out: Dict[Any, Any] = {}
        for chain, stats in enumerate(self._chain_stats):
            for name, value in stats.get().items():
                out[(chain, name)] = value
        return out

    def diagnostics(self) -> Dict[str, Any]:
        """``r_hat`` (Gelman-Rubin from each chain's mean and variance) of every site with
        those statistics, and each chain's divergences and acceptance rate."""
        out: Dict[str, Any] = OrderedDict()
        per_chain = [stats.get() for stats in self._chain_stats]
        if per_chain:
            for name, first in per_chain[0].items():
                if not isinstance(first, dict) or "variance" not in first:
                    continue
                means = torch.stack([c[name]["mean"] for c in per_chain])
                variances = torch.stack([c[name]["variance"] for c in per_chain])
                out[name] = OrderedDict([("r_hat", _streaming_r_hat(
                    means, variances, [c[name]["count"] for c in per_chain]))])
        for i, diag in enumerate(self._diagnostics):
            for key, value in diag.items():
                out.setdefault(key, {})[f"chain {i}"] = value
        return out


def _streaming_r_hat(means: torch.Tensor, variances: torch.Tensor, counts: List[int]
                     ) -> torch.Tensor:
    """Gelman-Rubin of chains given their means and variances (``(chains,) + shape``)."""
    if means.shape[0] < 2:
        return torch.ones_like(means[0])
    n = min(counts)
    within = variances.mean(0)
    between_over_n = means.var(0)
    var_hat = (n - 1) / n * within + between_over_n
    return (var_hat / within).sqrt()
