"""Helpers of the MCMC kernels: model initialisation, and summaries and diagnostics of samples.

:func:`initialize_model` turns a model into what a kernel needs: initial unconstrained
values, the potential energy, the transforms and a prototype trace.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from pyro.distributions import biject_to
from pyro.infer.arg_checks import (
    check_callable,
    check_count,
    check_mapping,
    check_model_args,
)
from pyro.infer.autoguide.initialization import InitMessenger, init_to_uniform
from pyro.infer.mcmc.potential import JitPotential, PotentialEnergy
from pyro.ops import stats
from pyro.poutine.handlers import block, trace
from pyro.poutine.util import site_is_subsample

__all__ = [
    "diagnostics",
    "initialize_model",
    "predictive",
    "print_summary",
    "select_samples",
    "summary",
]

Params = Dict[str, torch.Tensor]


def _is_enumerated(site: Dict[str, Any]) -> bool:
    return site["infer"].get("enumerate") == "parallel" or "_enumerate_dim" in site["infer"]


def _latent_sites(tr: Any) -> "OrderedDict[str, Dict[str, Any]]":
    return OrderedDict(
        (name, site) for name, site in tr.nodes.items()
        if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)
        and not _is_enumerated(site))


def _check_no_discrete_latent(latents: Dict[str, Any]) -> None:
    for name, site in latents.items():
        fn = site["fn"]
        if fn.support.is_discrete:
            # Pyro's phrase, then why enumeration cannot help when the support is infinite
            message = (f"Continuous inference cannot handle discrete sample site '{name}'. "
                       f"Consider enumerating that variable as documented in "
                       f"https://pyro.ai/examples/enumeration.")
            if not getattr(fn, "has_enumerate_support", False):
                message += (f" ({type(fn).__name__} has an infinite support, so it cannot be "
                            f"enumerated either: marginalize it out by hand or bound it.)")
            raise ValueError(message)


def _check_latents(tr: Any, latents: Dict[str, Any], initial_params: Optional[Params]) -> None:
    """Refuse, with a message naming the sites, a model with nothing to sample and
    ``initial_params`` that do not name its latent sites."""
    if not latents:
        observed = [n for n, s in tr.nodes.items() if s["type"] == "sample"]
        raise ValueError(f"MCMC: the model has no latent sample site to sample (its sample sites "
                         f"{observed} are all observed or enumerated)")
    if initial_params is not None:
        unknown = sorted(set(initial_params) - set(latents))
        missing = [n for n in latents if n not in initial_params]
        if unknown or missing:
            raise ValueError(f"MCMC: initial_params must give every latent site of the model, "
                             f"{list(latents)}; unknown: {unknown}, missing: {missing}")


def _guess_max_plate_nesting(model: Callable, args: tuple, kwargs: dict) -> int:
    from pyro.infer.util import plate_nesting

    with torch.no_grad():
        tr = trace(block(model, hide_fn=lambda msg: False)).get_trace(*args, **kwargs)
    return plate_nesting(tr)


def _prototype_trace(model: Callable, args: tuple, kwargs: dict, init_strategy: Callable,
                     enumerated: bool, max_plate_nesting: int) -> Any:
    fn = model
    if enumerated:
        from pyro.infer.enum.messenger import enum

        fn = enum(fn, first_available_dim=-1 - max_plate_nesting)
    with torch.no_grad():
        return trace(InitMessenger(init_strategy)(fn)).get_trace(*args, **kwargs)


def _has_parallel_enumeration(model: Callable, args: tuple, kwargs: dict) -> bool:
    """Whether the model marks a latent for parallel enumeration; refuses (from the same one
    run) a discrete latent that is not marked, before an init strategy trips over it."""
    with torch.no_grad():
        tr = trace(model).get_trace(*args, **kwargs)
    _check_no_discrete_latent(_latent_sites(tr))
    return any(site["type"] == "sample" and not site["is_observed"]
               and site["infer"].get("enumerate") == "parallel" for site in tr.nodes.values())


def _finite_energy(potential_fn: Callable[[Params], torch.Tensor], params: Params) -> bool:
    from pyro.ops.integrator import potential_grad

    grads, energy = potential_grad(potential_fn, params)
    return bool(torch.isfinite(energy)) and all(bool(torch.isfinite(g).all()) for g in grads.values())


def initialize_model(model: Callable, model_args: tuple = (), model_kwargs: dict = {},
                     transforms: Optional[Dict[str, Any]] = None,
                     max_plate_nesting: Optional[int] = None, jit_compile: bool = False,
                     jit_options: Optional[Dict[str, Any]] = None, skip_jit_warnings: bool = False,
                     num_chains: int = 1, init_strategy: Callable = init_to_uniform,
                     initial_params: Optional[Params] = None
                     ) -> Tuple[Params, Callable[[Params], torch.Tensor], Dict[str, Any], Any]:
    """Prepare ``model`` for HMC/NUTS.

    Args:
        model: the model.
        model_args, model_kwargs: the model's arguments.
        transforms: ``site -> transform`` from each latent's support onto the reals
            (default: ``biject_to(support).inv`` for every site not listed).
        max_plate_nesting: the number of plate dims (guessed from a trace when ``None`` and
            the model enumerates).
        jit_compile: compile the potential with ``torch.jit.trace``.
        jit_options: options of ``torch.jit.trace``.
        skip_jit_warnings: silence the tracer's warnings.
        num_chains: the number of initial points to find (a leading dim when more than one).
        init_strategy: how each site's initial value is chosen (``pyro.infer.autoguide``).
        initial_params: unconstrained initial values to use instead of searching.

    Returns:
        ``(initial_params, potential_fn, transforms, prototype_trace)``: unconstrained
        initial values, ``dict -> scalar`` potential energy, the transforms, and a trace of
        the model.

    Raises:
        RuntimeError: when no initial point with a finite potential is found in 100 tries.
    """
    check_callable("initialize_model", "model", model)
    check_model_args("initialize_model", model, model_args, model_kwargs)
    check_callable("initialize_model", "init_strategy", init_strategy)
    check_count("initialize_model", "num_chains", num_chains)
    model_args = tuple(model_args)
    model_kwargs = dict(model_kwargs or {})
    enumerated = _has_parallel_enumeration(model, model_args, model_kwargs)
    if max_plate_nesting is None:
        max_plate_nesting = _guess_max_plate_nesting(model, model_args, model_kwargs) if enumerated else 0
    prototype = _prototype_trace(model, model_args, model_kwargs, init_strategy, enumerated,
                                 max_plate_nesting)
    latents = _latent_sites(prototype)
    _check_latents(prototype, latents, initial_params)
    transforms = dict(transforms or {})
    for name, site in latents.items():
        if name not in transforms:
            transforms[name] = biject_to(site["fn"].support).inv
    energy = PotentialEnergy(model, model_args, model_kwargs, transforms, enumerated,
                             max_plate_nesting)
    potential_fn: Callable[[Params], torch.Tensor] = energy
    if jit_compile:
        potential_fn = JitPotential(energy, skip_jit_warnings, jit_options or {})
    if initial_params is None:
        chains = []
        for chain in range(num_chains):
            tr = prototype if chain == 0 else None
            for _ in range(100):
                if tr is None:
                    tr = _prototype_trace(model, model_args, model_kwargs, init_strategy,
                                          enumerated, max_plate_nesting)
                params = {name: transforms[name](tr.nodes[name]["value"]).detach()
                          for name in latents}
                if _finite_energy(energy, params):
                    break
                tr = None
            else:
                raise RuntimeError("Model specification seems incorrect - cannot find valid "
                                   "initial params.")
            chains.append(params)
        if num_chains == 1:
            initial_params = chains[0]
        else:
            initial_params = {name: torch.stack([c[name] for c in chains]) for name in latents}
    return initial_params, potential_fn, transforms, prototype


# ----- samples: selection, summaries, diagnostics --------------------------------------------

def select_samples(samples: Params, num_samples: Optional[int] = None,
                   group_by_chain: bool = False) -> Params:
    """Return ``num_samples`` draws chosen at random with replacement, as Pyro does (all, in
    order, when ``None``); ``num_samples`` may exceed the number of draws.

    With ``group_by_chain`` the draws are chosen along dim 1 (the draws of each chain) and the
    chain dim is kept; otherwise along dim 0.
    """
    if num_samples is None:
        return samples
    check_count("select_samples", "num_samples", num_samples)
    dim = 1 if group_by_chain else 0
    first = next(iter(samples.values()))
    total = first.shape[dim]
    index = torch.randint(total, (num_samples,), device=first.device)
    return {k: v.index_select(dim, index) for k, v in samples.items()}


def _check_samples(owner: str, samples: Any) -> None:
    check_mapping(owner, "samples", samples, "site name to tensor of draws (as MCMC.get_samples() returns)")


def diagnostics(samples: Params, group_by_chain: bool = True) -> Dict[str, Dict[str, torch.Tensor]]:
    """``n_eff`` (effective sample size) and ``r_hat`` (split Gelman-Rubin) of every site.

    Args:
        samples: ``site -> tensor`` of draws, shape ``(chains, draws) + site_shape`` (or
            ``(draws,) + site_shape`` when ``group_by_chain`` is false).
        group_by_chain: whether the samples have a leading chain dim.
    """
    _check_samples("diagnostics", samples)
    out: Dict[str, Dict[str, torch.Tensor]] = OrderedDict()
    for name, value in samples.items():
        if not group_by_chain:
            value = value.unsqueeze(0)
        value = value.to(torch.get_default_dtype()) if not value.is_floating_point() else value
        out[name] = OrderedDict([("n_eff", stats.effective_sample_size(value)),
                                 ("r_hat", stats.split_gelman_rubin(value))])
    return out


def summary(samples: Params, prob: float = 0.9,
            group_by_chain: bool = True) -> Dict[str, Dict[str, torch.Tensor]]:
    """Mean, std, median, the ends of the ``prob`` highest-density interval, ``n_eff`` and
    ``r_hat`` of every site (keys ``mean``, ``std``, ``median``, ``5.0%``, ``95.0%``,
    ``n_eff``, ``r_hat`` for ``prob=0.9``), each of the site's shape.

    Also ``pyro.infer.summary``; :func:`print_summary` and ``MCMC.summary`` print it.

    Args:
        samples: ``site -> tensor`` of draws, e.g. from ``MCMC.get_samples`` or ``Predictive``.
        prob: the mass of the interval.
        group_by_chain: whether every tensor has the shape ``(chains, draws) + site_shape``;
            otherwise ``(draws,) + site_shape`` (one chain).
    """
    _check_samples("summary", samples)
    stats.check_probability("summary", "prob", prob, open_left=True, open_right=True)
    low = "{:.1f}%".format(50 * (1 - prob))
    high = "{:.1f}%".format(50 * (1 + prob))
    out: Dict[str, Dict[str, torch.Tensor]] = {}
    for name, value in samples.items():
        if not isinstance(value, torch.Tensor) or value.dim() < (2 if group_by_chain else 1):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            expected = "(chains, draws, ...)" if group_by_chain else "(draws, ...)"
            raise ValueError(f"summary: samples['{name}'] has shape {shape}, expected a tensor "
                             f"of shape {expected} (group_by_chain={group_by_chain})")
        if not group_by_chain:
            value = value.unsqueeze(0)
        if not value.is_floating_point():
            value = value.to(torch.get_default_dtype())
        flat = value.reshape((-1,) + value.shape[2:])
        interval = stats.hpdi(flat, prob)
        out[name] = OrderedDict([
            ("mean", flat.mean(0)), ("std", flat.std(0)), ("median", flat.median(0).values),
            (low, interval[0]), (high, interval[1]),
            ("n_eff", stats.effective_sample_size(value)),
            ("r_hat", stats.split_gelman_rubin(value)),
        ])
    return out


def print_summary(samples: Params, prob: float = 0.9, group_by_chain: bool = True) -> None:
    """Print :func:`summary` as a table, one row per scalar element of every site."""
    if not samples:
        return
    table = summary(samples, prob, group_by_chain)
    columns = list(next(iter(table.values())))
    rows = []
    for name, stats_ in table.items():
        shape = stats_["mean"].shape
        if len(shape) == 0:
            rows.append((name, [float(stats_[c]) for c in columns]))
            continue
        for idx in torch.cartesian_prod(*[torch.arange(s) for s in shape]).reshape(-1, len(shape)):
            index = tuple(int(i) for i in idx)
            label = "{}[{}]".format(name, ",".join(map(str, index)))
            rows.append((label, [float(stats_[c][index]) for c in columns]))
    width = max(8, max(len(r[0]) for r in rows)) + 2
    lines = ["", " " * width + "".join(f"{c:>10}" for c in columns)]
    for label, values in rows:
        lines.append(f"{label:>{width}}" + "".join(f"{v:>10.2f}" for v in values))
    print("\n".join(lines) + "\n")


def predictive(model: Callable, posterior_samples: Params, *args: Any, **kwargs: Any) -> Any:
    """Draws of the model's sites given posterior samples (deprecated: use
    :class:`pyro.infer.Predictive`).

    Keyword arguments ``num_samples``, ``return_sites`` and ``return_trace`` are accepted as
    in Pyro; the rest go to the model.
    """
    warnings.warn("The `mcmc.predictive` function is deprecated and will be removed in a future "
                  "release. Use the `pyro.infer.Predictive` class instead.", FutureWarning)
    from pyro.infer.predictive import Predictive

    num_samples = kwargs.pop("num_samples", None)
    return_sites = kwargs.pop("return_sites", None)
    return_trace = kwargs.pop("return_trace", False)
    if return_trace:
        raise NotImplementedError("predictive(..., return_trace=True) is not supported; use "
                                  "pyro.infer.Predictive")
    pred = Predictive(model, posterior_samples=posterior_samples, num_samples=num_samples,
                      return_sites=return_sites)
    out = pred(*args, **kwargs)
    if return_sites is None:
        out = {k: v for k, v in out.items() if k not in posterior_samples}
    return out
