"""Smoke test for installed wheels: every namespace imports and a tiny model runs end to end.

Run by the tox ``wheels`` env after installing the five wheels non-editable.
"""

import os
import sys

import torch

import pyro
import pyro.distributions as dist
import pyro.nn  # noqa: F401
import pyro.ops.indexing  # pyro-distributions' module of the shared pyro.ops namespace
import pyro.ops.contract  # pyro-infer's modules of it (a subpackage too: pyro.ops.einsum)
import pyro.ops.einsum
import pyro.ops.jit  # pyro-core's module of the same namespace
import pyro.optim
import pyro.poutine.guide  # pyro-infer's module of the shared pyro.poutine folder
from pyro.infer import SVI, Trace_ELBO


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    sources = os.path.join(os.path.dirname(os.path.dirname(here)), "packages")
    for module in (pyro, dist, pyro.optim, pyro.ops.indexing, pyro.ops.jit, pyro.ops.contract,
                   pyro.ops.einsum):
        if os.path.abspath(module.__file__).startswith(sources):
            print(f"{module.__name__} imported from the source tree, not the wheel: {module.__file__}")
            return 1
    folders = {os.path.dirname(m.__file__) for m in (pyro.ops.indexing, pyro.ops.jit, pyro.ops.contract)}
    if len(folders) != 1 or os.path.dirname(os.path.dirname(pyro.ops.einsum.__file__)) not in folders:
        print("pyro.ops is split over several folders in a regular install: "
              f"{pyro.ops.__path__}")
        return 1
    if os.path.dirname(pyro.poutine.guide.__file__) != os.path.dirname(pyro.poutine.__file__):
        print(f"pyro.poutine is split over several folders in a regular install: {pyro.poutine.__path__}")
        return 1
    picked = pyro.ops.indexing.Vindex(torch.arange(6.0).reshape(2, 3))[..., torch.tensor([[2], [0]])]
    if picked.tolist() != [[2.0, 5.0], [0.0, 3.0]]:
        print(f"Vindex gave {picked.tolist()}")
        return 1
    pyro.set_rng_seed(0)
    data = torch.tensor([1.0, 1.0, 0.0, 1.0])

    def model():
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=data)

    def guide():
        a = pyro.param("a", torch.tensor(2.0), constraint=dist.constraints.positive)
        b = pyro.param("b", torch.tensor(2.0), constraint=dist.constraints.positive)
        pyro.sample("p", dist.Beta(a, b))

    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), Trace_ELBO())
    losses = [svi.step() for _ in range(50)]
    ok = all(torch.isfinite(torch.tensor(losses))) and set(pyro.get_param_store()) == {"a", "b"}
    from pyro.plugins import get_plugin_manager

    dists = {info.distribution for info in get_plugin_manager().plugins.values()}
    expected = {"pyro-core", "pyro-distributions", "pyro-infer", "pyro-optim", "pyro-nn"}
    if not expected <= dists:
        print(f"plugins found: {sorted(dists)}; expected {sorted(expected)}")
        return 1
    print("wheels smoke test:", "ok" if ok else "FAILED", f"(final loss {losses[-1]:.3f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
