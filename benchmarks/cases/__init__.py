"""The benchmark cases and the little registry that names them.

A case is one piece of work measured in three backends. Its main body is written once against
Pyro's public API and runs in both pyro backends ("ours" and "pyro-1.9.2"); a second body does
the same math in plain torch. Each body is a *setup* function: it builds data, models and
optimisers and returns a zero-argument callable, the thing that is timed.

    @bench("core.sample_bare", target=("pyro", 0.5))
    def sample_bare():
        import pyro
        d = callable_normal()
        return lambda: pyro.sample("x", d)

    @sample_bare.torch
    def _():
        d = callable_normal()
        return d.rsample

Setups import what they need inside their body, so that a case whose API is missing in one
backend is reported there as "n/a (missing: ...)" and does not stop the others.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

Setup = Callable[[], Callable[[], object]]


class Case:
    """One benchmark: a name, a pyro-API setup, a plain-torch setup and a speed target.

    ``target`` is ``(backend, ratio)``: "ours" should take at most ``ratio`` times the time of
    ``backend`` ("pyro" for pyro-1.9.2, or "torch").
    """

    def __init__(self, name: str, pyro_setup: Setup, target: Optional[Tuple[str, float]],
                 doc: str) -> None:
        self.name = name
        self.pyro_setup = pyro_setup
        self.torch_setup: Optional[Setup] = None
        self.target = target
        self.doc = doc

    def torch(self, setup: Setup) -> Setup:
        """Decorator: register the plain-torch version of this case."""
        self.torch_setup = setup
        return setup

    def setup_for(self, impl: str) -> Optional[Setup]:
        return self.pyro_setup if impl == "pyro" else self.torch_setup


CASES: Dict[str, Case] = {}


def bench(name: str, target: Optional[Tuple[str, float]] = None) -> Callable[[Setup], Case]:
    """Decorator: register a pyro-API setup function as the case ``name``."""

    def register(setup: Setup) -> Case:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} is defined twice")
        doc = ((setup.__doc__ or "").strip().splitlines() or [""])[0]
        case = Case(name, setup, target, doc)
        CASES[name] = case
        return case

    return register


def load_all() -> Dict[str, Case]:
    """Import every case module of this package (registration happens on import) and return
    the registry."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")
    return CASES
