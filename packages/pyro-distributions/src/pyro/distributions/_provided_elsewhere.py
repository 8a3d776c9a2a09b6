"""Names that another pyro distribution provides in this namespace, for a clear error.

Pyro's flows (``pyro.distributions.transforms.AffineAutoregressive`` and friends) and the seed
manual's ``pyro.distributions.InverseAutoRegressiveFlow`` need pyro-nn's networks: pyro-nn
registers them through its plugin. When it is not installed (or its plugin is blocked), looking
one of them up says which package to install instead of a bare ``AttributeError``. This module
imports nothing from pyro-nn.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

_NN = ("pyro-nn", "nn", "pyro.nn")

#: Registry kind -> {name: (distribution, pip extra of pyro-core, its module)}.
PROVIDED_ELSEWHERE: Dict[str, Dict[str, Tuple[str, str, str]]] = {
    "distributions": {name: _NN for name in ("Bijector", "InverseAutoRegressiveFlow")},
    "transforms": {
        name: _NN
        for name in (
            "AffineAutoregressive", "AffineCoupling", "BatchNorm", "BlockAutoregressive",
            "GeneralizedChannelPermute", "Householder", "MatrixExponential",
            "NeuralAutoregressive", "Planar", "Polynomial", "Radial", "Spline",
            "SplineAutoregressive", "SplineCoupling", "Sylvester",
            "ConditionalAffineAutoregressive", "ConditionalAffineCoupling",
            "ConditionalGeneralizedChannelPermute", "ConditionalHouseholder",
            "ConditionalMatrixExponential", "ConditionalNeuralAutoregressive",
            "ConditionalPlanar", "ConditionalRadial", "ConditionalSpline",
            "ConditionalSplineAutoregressive",
            "affine_autoregressive", "affine_coupling", "batchnorm", "block_autoregressive",
            "generalized_channel_permute", "householder", "matrix_exponential",
            "neural_autoregressive", "permute", "planar", "polynomial", "radial", "spline",
            "spline_autoregressive", "spline_coupling", "sylvester",
            "conditional_affine_autoregressive", "conditional_affine_coupling",
            "conditional_generalized_channel_permute", "conditional_householder",
            "conditional_matrix_exponential", "conditional_neural_autoregressive",
            "conditional_planar", "conditional_radial", "conditional_spline",
            "conditional_spline_autoregressive",
        )
    },
}


def resolve_or_explain(kind: str, name: str, module: str) -> Any:
    """Return the object registered as ``name`` in the registry ``kind``.

    Raises:
        ModuleNotFoundError: ``name`` is one that another distribution provides and nothing
            registered it; the message names that distribution and its pip extra. (Not an
            ``AttributeError``, so that ``from module import name`` shows the message too.)
        AttributeError: any other unknown name.
    """
    from pyro.plugins import resolve

    try:
        return resolve(kind, name, module)
    except AttributeError:
        provider = PROVIDED_ELSEWHERE.get(kind, {}).get(name)
        if provider is None:
            raise
    dist, extra, package = provider
    raise ModuleNotFoundError(
        f"{module}.{name} is provided by the {dist} package, which is not installed or whose "
        f"plugin is not loaded (see PYRO_DISABLE_PLUGINS); install it with: "
        f'pip install "pyro-core[{extra}]"',
        name=package,
    )


__all__ = ["PROVIDED_ELSEWHERE", "resolve_or_explain"]
