"""A pytest plugin for authors of pyro plugins (opt-in).

Enable it with ``pytest -p pyro.plugins.testing`` or, in a root ``conftest.py``,
``pytest_plugins = ["pyro.plugins.testing"]``. It provides:

``pyro_plugin_manager`` (fixture)
    A fresh :class:`~pyro.plugins.PyroPluginManager` holding only the first-party pyro plugins
    that are installed (no third-party entry point is loaded). It is installed as the
    process-wide manager for the test, so ``pyro.distributions.<Name>`` and friends resolve
    through it, and the previous manager is restored afterwards.

``pyro_register`` (fixture)
    A function ``register(plugin, name=None, distribution=None)`` that registers a module or
    object of ``@hookimpl`` functions with the fresh manager and returns the manager. Every
    plugin registered this way is unregistered at the end of the test, with what it added.

``pyro_plugin_checks`` (fixture)
    This module, for calling the conformance checks below without importing them.

Conformance checks (plain functions; each raises ``AssertionError`` with a message naming the
object and the shapes involved):

* :func:`check_distribution` -- shapes, ``sample``/``rsample``, ``log_prob`` on the
  distribution's own samples, ``expand`` and ``to_event`` (or ``Independent``), and a
  goodness-of-fit test of the samples against ``log_prob`` (see :func:`check_goodness_of_fit`).
* :func:`check_handler` -- a handler usable as ``handler(fn, ...)``, as a context manager and
  as a decorator, leaving the handler stack as it found it, also after an exception.
* :func:`check_plugin_module` -- every ``pyro_*`` function is a known hook and the module
  registers without failures.
* :func:`check_registered` -- a name registered by a plugin resolves on its namespace.

The checks are duck-typed and never import another package, so plugins for pyro-core alone can
use them; the goodness-of-fit test uses pyro-core's kit (:mod:`pyro.plugins.gof`, also
importable as ``pyro.distributions.testing.gof``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import types
from typing import Any, Callable, Iterator, List, Optional, Sequence

import pytest
import torch

from pyro.plugins import gof
from pyro.plugins.manager import FIRST_PARTY, ENTRY_POINT_GROUP, PyroPluginManager, set_plugin_manager
from pyro.plugins.registry import HOOKS, NAMESPACES


def fresh_plugin_manager(first_party: bool = True) -> PyroPluginManager:
    """Return a new manager with the installed first-party plugins only (or none at all)."""
    manager = PyroPluginManager(load_entry_points=False)
    if not first_party:
        return manager
    seen = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else None
        if (ep.name in FIRST_PARTY or dist in FIRST_PARTY) and ep.name not in seen:
            seen.add(ep.name)
            manager.register(ep.load(), name=ep.name, distribution=dist or ep.name,
                             version=ep.dist.version if ep.dist is not None else None)
            manager.plugins[ep.name].first_party = True
    return manager


@pytest.fixture
def pyro_plugin_manager() -> Iterator[PyroPluginManager]:
    """A fresh plugin manager (first-party plugins only), process-wide for the test."""
    manager = fresh_plugin_manager()
    old = set_plugin_manager(manager)
    try:
        yield manager
    finally:
        set_plugin_manager(old)


@pytest.fixture
def pyro_register(pyro_plugin_manager: PyroPluginManager) -> Iterator[Callable[..., PyroPluginManager]]:
    """``register(plugin, name=None, distribution=None)``: register now, unregister after the test."""
    names: List[str] = []

    def register(plugin: Any, name: Optional[str] = None,
                 distribution: Optional[str] = None) -> PyroPluginManager:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if not pyro_plugin_manager.register(plugin, name=name, distribution=distribution):
            failure = pyro_plugin_manager.failures[-1]
            raise AssertionError(f"plugin {name!r} could not be registered: {failure.error}")
        names.append(name)
        return pyro_plugin_manager

    yield register
    for name in reversed(names):
        pyro_plugin_manager.unregister(name)


@pytest.fixture
def pyro_plugin_checks() -> types.ModuleType:
    """This module, whose ``check_*`` functions test what a plugin registers."""
    return importlib.import_module(__name__)


# ----- conformance checks -------------------------------------------------------------------


def _fail(what: str, message: str) -> None:
    raise AssertionError(f"{what}: {message}")


def _shape(x: Any) -> tuple:
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__  # type: ignore


def check_distribution(d: Any, sample_shape: Sequence[int] = (2, 3), expand_to: Sequence[int] = (4,),
                       *, goodness_of_fit: Optional[bool] = None) -> None:
    """Check a distribution instance's shapes, samples, log-densities, expand and to_event.

    Args:
        d: an instance of the distribution (anything with torch's Distribution interface).
        sample_shape: a sample shape to draw with.
        expand_to: extra leading batch dims to expand the distribution by.
        goodness_of_fit: run :func:`check_goodness_of_fit` too: ``None`` (the default) when
            pyro-distributions is installed, ``True`` always (an error without it), ``False``
            never.

    Raises:
        AssertionError: naming the distribution and the shapes that disagree, or the batch
            member whose samples disagree with ``log_prob``.
    """
    what = type(d).__name__
    batch, event = d.batch_shape, d.event_shape
    if not isinstance(batch, torch.Size) or not isinstance(event, torch.Size):
        _fail(what, f"batch_shape and event_shape must be torch.Size, got {batch!r}, {event!r}")
    full = batch + event
    x = d.sample()
    if _shape(x) != tuple(full):
        _fail(what, f"sample() has shape {_shape(x)}, expected batch+event {tuple(full)}")
    xs = d.sample(torch.Size(sample_shape))
    if _shape(xs) != tuple(sample_shape) + tuple(full):
        _fail(what, f"sample({tuple(sample_shape)}) has shape {_shape(xs)}, expected "
                    f"{tuple(sample_shape) + tuple(full)}")
    if getattr(d, "has_rsample", False):
        xr = d.rsample(torch.Size(sample_shape))
        if _shape(xr) != _shape(xs):
            _fail(what, f"rsample has shape {_shape(xr)}, sample has {_shape(xs)}")
    lp = d.log_prob(x)
    if _shape(lp) != tuple(batch):
        _fail(what, f"log_prob of a sample has shape {_shape(lp)}, expected batch_shape {tuple(batch)}")
    lps = d.log_prob(xs)
    if _shape(lps) != tuple(sample_shape) + tuple(batch):
        _fail(what, f"log_prob of sample({tuple(sample_shape)}) has shape {_shape(lps)}, expected "
                    f"{tuple(sample_shape) + tuple(batch)}")
    if not bool(torch.isfinite(lps).all()):
        _fail(what, "log_prob is not finite on the distribution's own samples")
    if getattr(d, "support", None) is not None:
        try:
            ok = bool(d.support.check(xs).all())
        except NotImplementedError:
            ok = True
        if not ok:
            _fail(what, "samples fall outside the distribution's support")
    # expand
    new_batch = torch.Size(expand_to) + batch
    e = d.expand(new_batch)
    if e.batch_shape != new_batch or e.event_shape != event:
        _fail(what, f"expand({tuple(new_batch)}) gives batch_shape {tuple(e.batch_shape)} and "
                    f"event_shape {tuple(e.event_shape)}")
    ex = e.sample()
    if _shape(ex) != tuple(new_batch + event):
        _fail(what, f"expanded sample has shape {_shape(ex)}, expected {tuple(new_batch + event)}")
    elp = e.log_prob(x)
    if _shape(elp) != tuple(new_batch):
        _fail(what, f"expanded log_prob has shape {_shape(elp)}, expected {tuple(new_batch)}")
    if not torch.allclose(elp, lp.expand(new_batch), rtol=1e-5, atol=1e-6, equal_nan=False):
        _fail(what, "expand changed log_prob values")
    # to_event (a pyro distribution) or Independent (a plain torch one)
    if len(batch) > 0:
        n = len(batch)
        ind = d.to_event(n) if hasattr(d, "to_event") else torch.distributions.Independent(d, n)
        if ind.batch_shape != torch.Size() or ind.event_shape != batch + event:
            _fail(what, f"to_event({n}) gives batch_shape {tuple(ind.batch_shape)} and event_shape "
                        f"{tuple(ind.event_shape)}")
        if not torch.allclose(ind.log_prob(x), lp.sum(), rtol=1e-5, atol=1e-5):
            _fail(what, f"to_event({n}).log_prob is not the sum of log_prob over the batch")
    if goodness_of_fit is not False:
        check_goodness_of_fit(d, required=bool(goodness_of_fit))


#: Batch members tested by :func:`check_goodness_of_fit` (the first, the last, between).
GOF_MAX_BATCH_MEMBERS = 4
#: Continuous events of more dims than this are not tested: the nearest-neighbour test
#: assumes a density nearly constant over each sample's neighbourhood.
GOF_MAX_DIM = 6
#: A discrete value is a bin of its own when it is expected this many times; rarer values
#: share one bin.
_GOF_MIN_EXPECTED = 5.0


def _distributions_installed() -> bool:
    # pyro's finder answers a missing first-party subpackage with a ModuleNotFoundError that
    # names the package to install
    try:
        return importlib.util.find_spec("pyro.distributions") is not None
    except ModuleNotFoundError:
        return False


def check_goodness_of_fit(d: Any, *, num_samples: int = 4000, threshold: float = 1e-3,
                          seed: int = 0, required: bool = True) -> None:
    """Check that ``d``'s samples are distributed as ``exp(d.log_prob)`` says.

    Draws ``num_samples`` samples (under ``torch.random.fork_rng`` seeded with ``seed``, so
    the result is reproducible and the caller's random state is left alone) and, for up to
    :data:`GOF_MAX_BATCH_MEMBERS` batch members, computes a p-value with
    :mod:`pyro.plugins.gof`:

    * discrete supports (``support.is_discrete``): Pearson's chi-squared test of the counts of
      each value against ``num_samples * exp(log_prob)``; values expected fewer than five
      times are pooled, with the probability the others leave;
    * continuous supports: the samples are mapped to unconstrained space by
      ``torch.distributions.biject_to(support)`` when a bijection is registered (the density
      there includes the Jacobian), so that samples on a simplex or of a Cholesky factor fill
      their space; then the spacings test (one dimension) or the nearest-neighbour test
      (up to :data:`GOF_MAX_DIM` dims; larger events are not tested). Samples on the unit
      sphere (``constraints.sphere``, which has no bijection) are tested where they lie, as
      a surface of one dim fewer.

    A batch member whose samples are all equal (a point mass) is not tested. A wrong sampler
    or a wrongly normalised ``log_prob`` gives a p-value far below ``threshold``.

    Args:
        d: the distribution instance.
        num_samples: the number of samples per batch member.
        threshold: the smallest p-value accepted.
        seed: the seed of the draw.
        required: fail when pyro-distributions is not installed; otherwise return.

    Raises:
        AssertionError: naming the distribution, the batch member and the p-value.
    """
    what = type(d).__name__
    # Run where pyro-distributions is installed, as before the kit moved here; looked up, not
    # imported (pyro-core never imports another package).
    if not _distributions_installed():
        if required:
            _fail(what, "the goodness-of-fit test needs pyro-distributions: "
                        'pip install "pyro-core[distributions]"')
        return
    batch = d.batch_shape
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        with torch.no_grad():
            xs = d.sample(torch.Size((num_samples,)))
            lp = d.log_prob(xs)
    support = getattr(d, "support", None)
    members = batch.numel()
    if members <= GOF_MAX_BATCH_MEMBERS:
        picks = list(range(members))
    else:
        step = (members - 1) / (GOF_MAX_BATCH_MEMBERS - 1)
        picks = sorted({round(i * step) for i in range(GOF_MAX_BATCH_MEMBERS)})
    if getattr(support, "is_discrete", False):
        flat_x = xs.reshape((num_samples, members, -1))
        flat_lp = lp.reshape(num_samples, members)
        for b in picks:
            p = _discrete_p_value(flat_x[:, b], flat_lp[:, b])
            _gof_verdict(what, batch, b, p, threshold)
        return
    ys, log_density = _unconstrained(xs, lp, support, len(batch))
    # The unit sphere has no bijection to a flat space: test there, in one dim fewer.
    on_sphere = ys is xs and type(support).__name__ == "_Sphere"
    for b in picks:
        y, ld = _member_samples(ys, log_density, batch, b)
        if not bool(torch.isfinite(y).all()):
            # Samples on the support's boundary (rounding) have no unconstrained image.
            y, ld = _member_samples(xs, lp, batch, b)
        if not bool(torch.isfinite(y).all()):
            _fail(what, f"non-finite samples for batch member {_member(batch, b)}")
        dim = y.shape[1] - 1 if on_sphere else y.shape[1]
        if dim > GOF_MAX_DIM:
            continue
        if bool((y == y[:1]).all()):
            continue  # a point mass: no density to test against
        p = gof.auto_goodness_of_fit(y if y.shape[1] > 1 else y.reshape(-1), ld.exp(), dim=dim)
        _gof_verdict(what, batch, b, p, threshold)


def _member_samples(xs: torch.Tensor, lp: torch.Tensor, batch: torch.Size, b: int) -> tuple:
    """Batch member ``b``'s samples, flattened to ``(num_samples, dim)``, and log-densities."""
    n = xs.shape[0]
    flat = xs.reshape((n, batch.numel(), -1))[:, b].double()
    return flat, lp.reshape(n, batch.numel())[:, b].double()


def _member(batch: torch.Size, flat: int) -> tuple:
    index = []
    for size in reversed(batch):
        index.append(flat % size)
        flat //= size
    return tuple(reversed(index))


def _gof_verdict(what: str, batch: torch.Size, b: int, p: float, threshold: float) -> None:
    if not p > threshold:
        _fail(what, f"samples disagree with log_prob: goodness-of-fit p-value {p:.3g} < "
                    f"{threshold:g} for batch member {_member(batch, b)} of batch_shape "
                    f"{tuple(batch)}")


def _discrete_p_value(x: torch.Tensor, lp: torch.Tensor) -> float:
    """The chi-squared p-value of the counts of the distinct rows of ``x`` (one per sample)."""
    n = x.shape[0]
    values, inverse, counts = torch.unique(x, dim=0, return_inverse=True, return_counts=True)
    first = torch.full((values.shape[0],), n, dtype=torch.long, device=x.device)
    first.scatter_reduce_(0, inverse, torch.arange(n, device=x.device), reduce="amin")
    probs = lp[first].double().exp()
    frequent = probs * n >= _GOF_MIN_EXPECTED
    if int(frequent.sum()) < 1:
        return 1.0  # too spread out to say anything with these many samples
    return gof.multinomial_goodness_of_fit(probs[frequent].cpu(), counts[frequent].double().cpu(),
                                           total_count=n)


def _unconstrained(xs: torch.Tensor, lp: torch.Tensor, support: Any, batch_dims: int) -> tuple:
    """The samples mapped to unconstrained space and their log-density there, or the samples
    as they are when no bijection is registered for ``support``."""
    try:
        transform = torch.distributions.biject_to(support)
    except (NotImplementedError, TypeError):
        return xs, lp
    ys = transform.inv(xs)
    ladj = transform.log_abs_det_jacobian(ys, xs)
    while ladj.dim() > 1 + batch_dims:
        ladj = ladj.sum(-1)
    return ys, lp + ladj.expand(lp.shape)


def check_handler(handler: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Check a handler function's three forms and its stack hygiene.

    ``handler(fn, *args, **kwargs)`` must return a callable that runs ``fn`` (and returns its
    value); ``handler(*args, **kwargs)`` (``fn`` omitted, i.e. ``None``) must give an object
    usable with ``with`` and as a decorator; neither may leave anything on the handler stack,
    even when the wrapped code raises.

    Raises:
        AssertionError: naming the handler and the form that failed.
    """
    from pyro.poutine.runtime import _PYRO_STACK

    what = getattr(handler, "__name__", type(handler).__name__)
    depth = len(_PYRO_STACK)
    marker = object()

    def body() -> Any:
        if len(_PYRO_STACK) <= depth:
            _fail(what, "the wrapped function ran outside the handler")
        return marker

    wrapped = handler(body, *args, **kwargs)
    if not callable(wrapped) or wrapped() is not marker:
        _fail(what, "handler(fn, ...)() must run fn and return its value")
    if len(_PYRO_STACK) != depth:
        _fail(what, "handler(fn, ...)() left frames on the handler stack")
    msngr = handler(None, *args, **kwargs)
    with msngr:
        if len(_PYRO_STACK) != depth + 1:
            _fail(what, "entering the handler must push exactly one frame")
    if len(_PYRO_STACK) != depth:
        _fail(what, "leaving the handler must pop its frame")
    if handler(None, *args, **kwargs)(body)() is not marker:
        _fail(what, "handler(...)(fn)() must run fn and return its value")

    def raising() -> None:
        raise _Probe()

    try:
        handler(raising, *args, **kwargs)()
    except _Probe:
        pass
    else:
        _fail(what, "an exception inside the handler was swallowed")
    if len(_PYRO_STACK) != depth:
        _fail(what, "an exception left frames on the handler stack")


class _Probe(Exception):
    """Raised inside a handler to check that the handler lets it through."""


def check_plugin_module(module: Any, name: str = "plugin-under-test") -> PyroPluginManager:
    """Check that ``module``'s ``pyro_*`` functions are known hooks and register cleanly.

    Registers the module with a fresh, empty manager, fills every registry, and fails if a
    hook is unknown or raised.

    Returns:
        The manager, for further checks of what was registered.
    """
    from pyro.plugins import hookspecs

    known = {n for n in dir(hookspecs) if n.startswith("pyro_")}
    for attr in dir(module):
        if attr.startswith("pyro_") and callable(getattr(module, attr)) and attr not in known:
            _fail(name, f"{attr} is not a pyro hook; known hooks: {sorted(known)}")
    manager = fresh_plugin_manager(first_party=False)
    if not manager.register(module, name=name):
        _fail(name, manager.failures[-1].error or "registration failed")
    for kind in HOOKS:
        manager.get_registry(kind)
    if manager.failures:
        _fail(name, "; ".join(f.error or "" for f in manager.failures))
    return manager


def check_registered(kind: str, name: str, obj: Any) -> None:
    """Check that ``obj`` is registered as ``name`` and resolves on its namespace module.

    Uses the process-wide manager (the ``pyro_plugin_manager`` fixture's, inside a test that
    uses it).
    """
    from pyro.plugins import get_registry

    if get_registry(kind).get(name) is not obj:
        _fail(name, f"not registered as {kind} {name!r}")
    module = importlib.import_module(NAMESPACES[kind])
    if getattr(module, name, None) is not obj:
        _fail(name, f"{NAMESPACES[kind]}.{name} does not resolve to the registered object")


__all__ = [
    "GOF_MAX_BATCH_MEMBERS",
    "GOF_MAX_DIM",
    "check_distribution",
    "check_goodness_of_fit",
    "check_handler",
    "check_plugin_module",
    "check_registered",
    "fresh_plugin_manager",
    "pyro_plugin_checks",
    "pyro_plugin_manager",
    "pyro_register",
]
