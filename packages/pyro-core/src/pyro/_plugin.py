"""pyro-core's own plugin: registers the core handlers and torch's constraints."""

from typing import Any

from pyro.plugins import hookimpl

_CORE_HANDLERS = (
    "block", "broadcast", "condition", "do", "equalize", "escape", "infer_config", "lift",
    "markov", "mask", "queue", "replay", "scale", "seed", "substitute", "trace", "uncondition",
)


@hookimpl
def pyro_register_handlers(registry: Any) -> None:
    from pyro import poutine

    for name in _CORE_HANDLERS:
        registry.add(name, getattr(poutine, name))


@hookimpl
def pyro_register_constraints(registry: Any) -> None:
    from torch.distributions import constraints

    for name in constraints.__all__:
        obj = getattr(constraints, name)
        if isinstance(obj, constraints.Constraint) or (
            isinstance(obj, type) and issubclass(obj, constraints.Constraint)
        ):
            registry.add(name, obj)
