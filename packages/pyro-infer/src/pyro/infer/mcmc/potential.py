"""The potential energy of a model: ``-log p(data, latents)`` over unconstrained latents.

Built once from a prototype trace of the model: every continuous latent site gets a bijection
from its support onto the reals, and the potential of a dict of unconstrained values is minus
the model's log-joint at the constrained values minus the log-determinant of the bijections'
Jacobians. Discrete latents marked for parallel enumeration are summed out by the enumeration
code of :mod:`pyro.infer.enum`.

Without enumeration the model runs under one small handler that substitutes the values and
adds up the scaled, masked log-densities as the sites run (no trace is built); with
enumeration it runs traced under ``enum`` and the factors are contracted.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List

import torch

from pyro.ops.score_parts import scale_and_mask
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

__all__ = ["PotentialEnergy"]

Params = Dict[str, torch.Tensor]


class _SubstituteAndScore(Messenger):
    """Give each latent site its value from ``values`` and add every site's log-density."""

    def __init__(self, values: Params) -> None:
        super().__init__()
        self.values = values
        self.terms: List[torch.Tensor] = []

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if msg["is_observed"] or site_is_subsample(msg):
            return
        value = self.values.get(msg["name"])
        if value is None:
            raise ValueError(f"site '{msg['name']}' is a latent site that was not in the model's "
                             f"prototype trace; MCMC needs a fixed set of latent sites")
        msg["value"] = value
        msg["done"] = True

    def _pyro_post_sample(self, msg: Dict[str, Any]) -> None:
        if site_is_subsample(msg):
            return
        log_p = msg["fn"].log_prob(msg["value"], *msg["args"], **msg["kwargs"])
        log_p = scale_and_mask(log_p, msg["scale"], msg["mask"])
        if isinstance(log_p, torch.Tensor):
            self.terms.append(log_p.sum() if log_p.dim() else log_p)
        elif log_p != 0:
            self.terms.append(torch.as_tensor(log_p))


def _is_identity(t: Any) -> bool:
    """Whether ``t`` is the identity (torch's ``biject_to(real)``: an empty composition)."""
    parts = getattr(t, "parts", None)
    return isinstance(t, torch.distributions.transforms.ComposeTransform) and not parts


class PotentialEnergy:
    """``potential(params) -> scalar`` for a model, built once.

    Args:
        model: the model.
        model_args, model_kwargs: its arguments, fixed for the run.
        transforms: ``site -> transform`` from the site's support onto the reals.
        enumerated: whether the model has sites to sum out by parallel enumeration.
        max_plate_nesting: the plate dims the model uses (for enumeration).
    """

    def __init__(self, model: Callable, model_args: tuple, model_kwargs: dict,
                 transforms: Dict[str, Any], enumerated: bool, max_plate_nesting: int) -> None:
        self.model = model
        self.model_args = model_args
        self.model_kwargs = model_kwargs
        self.transforms = transforms
        self.enumerated = enumerated
        self.max_plate_nesting = max_plate_nesting
        # Identity maps (real-valued sites) cost nothing: neither a call nor a log-det term.
        self._inverses = {name: t.inv for name, t in transforms.items() if not _is_identity(t)}

    def constrain(self, params: Params) -> Params:
        """The constrained values of unconstrained ``params``."""
        inverses = self._inverses
        return {name: inverses[name](u) if name in inverses else u for name, u in params.items()}

    def log_joint(self, values: Params) -> torch.Tensor:
        """The model's log-joint at constrained ``values`` (enumerated sites summed out)."""
        if self.enumerated:
            return self._enum_log_joint(values)
        scorer = _SubstituteAndScore(values)
        with scorer:
            self.model(*self.model_args, **self.model_kwargs)
        terms = scorer.terms
        total = terms[0] if terms else torch.zeros(())
        for t in terms[1:]:
            total = total + t
        return total

    def _enum_log_joint(self, values: Params) -> torch.Tensor:
        from pyro.infer.enum.factors import compute_log_probs
        from pyro.infer.enum.messenger import enum
        from pyro.infer.enum.traceenum_elbo import compute_enum_elbo
        from pyro.poutine.handlers import condition, trace
        from pyro.poutine.trace_struct import Trace

        fn = enum(condition(self.model, data=values),
                  first_available_dim=-1 - self.max_plate_nesting)
        tr = trace(fn).get_trace(*self.model_args, **self.model_kwargs)
        compute_log_probs(tr)
        return compute_enum_elbo(tr, Trace())

    def __call__(self, params: Params) -> torch.Tensor:
        inverses = self._inverses
        values = {}
        log_det: Any = 0.0
        for name, u in params.items():
            t = inverses.get(name)
            if t is None:
                values[name] = u
                continue
            x = t(u)
            values[name] = x
            ladj = t.log_abs_det_jacobian(u, x)
            log_det = log_det + (ladj.sum() if isinstance(ladj, torch.Tensor) else ladj)
        return -(self.log_joint(values) + log_det)


class JitPotential:
    """A potential compiled with ``torch.jit.trace`` on its first call (one graph per set of
    shapes), called with the sites' values as positional tensors."""

    def __init__(self, potential: Callable[[Params], torch.Tensor], ignore_warnings: bool,
                 jit_options: Dict[str, Any]) -> None:
        self.potential = potential
        self.ignore_warnings = ignore_warnings
        self.jit_options = dict(jit_options or {})
        self.jit_options.setdefault("check_trace", False)
        self._compiled: Dict[Any, Any] = {}

    def __call__(self, params: Params) -> torch.Tensor:
        names = tuple(params)
        key = (names, tuple(tuple(v.shape) for v in params.values()))
        compiled = self._compiled.get(key)
        if compiled is None:
            potential = self.potential

            def flat(*tensors: torch.Tensor) -> torch.Tensor:
                return potential(dict(zip(names, tensors)))

            with warnings.catch_warnings():
                # torch's deprecation notice of torch.jit.trace: silenced as pyro.ops.jit does.
                warnings.filterwarnings("ignore", message=".*torch.jit.trace.* is deprecated",
                                        category=DeprecationWarning)
                if self.ignore_warnings:
                    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
                compiled = torch.jit.trace(flat, tuple(params.values()), **self.jit_options)
            self._compiled[key] = compiled
        return compiled(*params.values())
