"""Every hook a pyro plugin may implement, with what it is given and when it is called.

Registration hooks are called once per process, the first time a registry of their kind is
looked up. Each receives a *registrar* for one kind of object: ``registry.add(name, obj)``.
A name added twice (by any two plugins) is an error naming both distributions.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "pyro"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def pyro_register_distributions(registry: Any) -> None:
    """Add distribution classes; each becomes ``pyro.distributions.<name>``."""


@hookspec
def pyro_register_constraints(registry: Any) -> None:
    """Add constraints (instances, or classes of parameterised ones).

    Each becomes ``pyro.distributions.constraints.<name>``; the param store saves constraints
    by these names.
    """


@hookspec
def pyro_register_transforms(registry: Any) -> None:
    """Add transform classes or instances; each becomes ``pyro.distributions.transforms.<name>``."""


@hookspec
def pyro_register_handlers(registry: Any) -> None:
    """Add effect handlers (handler functions or messenger classes); each becomes
    ``pyro.poutine.<name>``."""


@hookspec
def pyro_register_inference(registry: Any) -> None:
    """Add inference engines, ELBO losses, autoguides and MCMC kernels; each becomes
    ``pyro.infer.<name>`` and losses are accepted by name, e.g. ``SVI(..., loss="Trace_ELBO")``."""


@hookspec
def pyro_register_optimizers(registry: Any) -> None:
    """Add optimizers and schedulers; each becomes ``pyro.optim.<name>``."""


@hookspec
def pyro_register_nn(registry: Any) -> None:
    """Add neural-network modules and flows; each becomes ``pyro.nn.<name>``."""


@hookspec
def pyro_register_settings(registry: Any) -> None:
    """Add global settings: ``registry.add(alias, pyro.settings.Setting(modulename, deepname,
    validator))``; each is read and written through ``pyro.settings.get/set/context(alias)``.

    Give the module and attribute by name: nothing is imported until the setting is used.
    """


@hookspec
def pyro_svi_step(svi: Any, step: int, loss: float) -> None:
    """Called once after every ``SVI.step``, with the step's index (from 0) and its loss.

    For progress reporting, logging and checkpoints. Never called per sample site.
    """
