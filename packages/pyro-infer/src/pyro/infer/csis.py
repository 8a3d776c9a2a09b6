"""``CSIS``: compiled sequential importance sampling, an amortised proposal trained on the
model's own draws, then used for importance sampling."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Optional

import torch

from pyro import poutine
from pyro.infer.arg_checks import check_callable, check_count
from pyro.infer.importance import Importance
from pyro.infer.util import zero_grads
from pyro.optim import DistributedOptimizer, PyroOptim

__all__ = ["CSIS"]


class _GuideWithoutParams(ValueError, RuntimeError):
    """A CSIS guide with nothing to train (a ``RuntimeError`` too, the type Pyro raises)."""


def _check_takes_observations(guide: Callable) -> None:
    """Refuse a guide whose signature cannot take the ``observations`` keyword argument."""
    try:
        params = inspect.signature(guide).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin, say): let the call tell
        return
    for p in params:
        if p.kind is p.VAR_KEYWORD or (p.name == "observations" and p.kind is not p.POSITIONAL_ONLY):
            return
    name = getattr(guide, "__name__", type(guide).__name__)
    raise TypeError(
        f"CSIS: the guide must take the keyword argument observations (a dict of the observed "
        f"sites' values), e.g. def guide(*args, observations=None); the guide {name} has the "
        f"signature {inspect.signature(guide)}")


class CSIS(Importance):
    """Compiled sequential importance sampling (Le, Baydin and Wood, 2017).

    Training (:meth:`step`) draws ``training_batch_size`` joint samples ``(z, x)`` of the model
    (its observed sites sampled too) and minimises ``-mean log q(z | x)``: the guide, called
    with the model's arguments and the keyword argument ``observations={observed site: value}``
    (replacing any ``observations`` given), learns to propose the latents that produced ``x``.
    Inference (:meth:`run`) is then :class:`~pyro.infer.Importance` with the guide as proposal
    and ``num_inference_samples`` draws. The model and the guide must both take the
    ``observations`` keyword argument; the model's observed sites read their values from it.

    Args:
        model: the model.
        guide: the amortised proposal; its params are trained.
        optim: a :class:`~pyro.optim.PyroOptim` for the guide's params.
        num_inference_samples: importance samples drawn by :meth:`run`.
        training_batch_size: joint samples per training step.
        validation_batch_size: joint samples in the fixed validation batch.

    Raises:
        TypeError: a model or guide that is not callable, a guide that cannot take the
            ``observations`` keyword argument, an optimizer that is not a Pyro optimizer
            (as for :class:`~pyro.infer.SVI`), a batch size that is not an int.
        ValueError: a batch size or ``num_inference_samples`` below 1; from :meth:`step`, a
            guide with no params to train (a ``RuntimeError`` too, Pyro's type).
    """

    def __init__(self, model: Callable, guide: Callable, optim: Any, num_inference_samples: int = 10,
                 training_batch_size: int = 10, validation_batch_size: int = 20) -> None:
        check_callable("CSIS", "model", model)
        check_callable("CSIS", "guide", guide)
        _check_takes_observations(guide)
        if not isinstance(optim, (PyroOptim, DistributedOptimizer)):
            from pyro.infer.svi import _not_a_pyro_optimizer

            _not_a_pyro_optimizer(optim, owner="CSIS")
        check_count("CSIS", "num_inference_samples", num_inference_samples)
        check_count("CSIS", "training_batch_size", training_batch_size)
        check_count("CSIS", "validation_batch_size", validation_batch_size)
        super().__init__(model, guide, num_inference_samples)
        self.model = model
        self.guide = guide
        self.optim = optim
        self.training_batch_size = training_batch_size
        self.validation_batch_size = validation_batch_size
        self.validation_batch: Optional[List[Any]] = None

    # ----- joint draws ------------------------------------------------------------------------
    def _sample_from_joint(self, *args: Any, **kwargs: Any) -> Any:
        """One trace of the model with its observed sites sampled (no gradients kept)."""
        with torch.no_grad(), poutine.block():
            return poutine.trace(poutine.uncondition(self.model)).get_trace(*args, **kwargs)

    def _guide_trace(self, model_trace: Any, args: tuple, kwargs: dict) -> Any:
        observations: Dict[str, Any] = {
            name: site["value"] for name, site in model_trace.nodes.items()
            if site["type"] == "sample" and site["infer"].get("was_observed")}
        kwargs = dict(kwargs, observations=observations)
        return poutine.trace(poutine.replay(self.guide, trace=model_trace)).get_trace(*args, **kwargs)

    def set_validation_batch(self, *args: Any, **kwargs: Any) -> None:
        """Draw and keep ``validation_batch_size`` joint samples for :meth:`validation_loss`."""
        self.validation_batch = [self._sample_from_joint(*args, **kwargs)
                                 for _ in range(self.validation_batch_size)]

    # ----- training ---------------------------------------------------------------------------
    def step(self, *args: Any, **kwargs: Any) -> float:
        """Train the guide one optimizer step on a fresh batch; return the batch's loss.

        Raises:
            ValueError: when the guide has no params (also a ``RuntimeError``, Pyro's type).
        """
        with poutine.trace(param_only=True) as capture:
            loss = self.loss_and_grads(True, None, *args, **kwargs)
        params = [site["value"].unconstrained() for site in capture.trace.nodes.values()
                  if site["type"] == "param"]
        self.optim(params)
        zero_grads(params)
        return loss

    def loss_and_grads(self, grads: bool, batch: Optional[List[Any]], *args: Any,
                       **kwargs: Any) -> float:
        """Return ``-mean log q(z | x)`` over ``batch`` (a fresh training batch when ``None``);
        with ``grads``, accumulate its gradient into the guide's params."""
        if batch is None:
            batch = [self._sample_from_joint(*args, **kwargs)
                     for _ in range(self.training_batch_size)]
        total = 0.0
        for model_trace in batch:
            with poutine.trace(param_only=True) as capture:
                guide_trace = self._guide_trace(model_trace, args, kwargs)
            particle_loss = -guide_trace.log_prob_sum() / len(batch)
            if grads:
                params = [site["value"].unconstrained() for site in capture.trace.nodes.values()
                          if site["type"] == "param"]
                if not params:
                    raise _GuideWithoutParams(
                        "CSIS.step: the guide has no params to train (no pyro.param or "
                        "pyro.module ran in it); CSIS trains the guide's params")
                found = torch.autograd.grad(particle_loss, params, allow_unused=True)
                for p, g in zip(params, found):
                    if g is not None:
                        p.grad = g if p.grad is None else p.grad + g
            total += float(particle_loss.detach())
        return total

    def validation_loss(self, *args: Any, **kwargs: Any) -> float:
        """Return the loss on the validation batch (drawn on first use), without gradients."""
        if self.validation_batch is None:
            self.set_validation_batch(*args, **kwargs)
        with torch.no_grad():
            return self.loss_and_grads(False, self.validation_batch, *args, **kwargs)
