"""Monotonic rational splines: element-wise bijections of the real line that are a spline on
``[-bound, bound]`` and the identity outside it.

The interval is cut into ``count_bins`` bins by knots whose widths and heights are learnt (both
sum to ``2 * bound``); the derivative at every interior knot is learnt too and is close to 1 at
the two outer knots. On each bin the map is

- ``order="quadratic"``: a rational-quadratic function (Durkan et al., 2019, "Neural Spline
  Flows");
- ``order="linear"``: two linear-rational pieces that meet at a learnt fraction ``lambda`` of the
  bin (Dolatabadi et al., 2020, "Invertible Generative Modeling using Linear Rational Splines").

Both are strictly increasing, continuous with a continuous derivative at the interior knots, and
inverted in closed form. The maths are the pure functions :func:`spline_forward` and
:func:`spline_inverse`; the flows of this module, of :mod:`~pyro.nn.flows.spline_autoregressive`
and of :mod:`~pyro.nn.flows.spline_coupling` use them.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch.distributions.transforms import Transform
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import DenseNN, check_int, check_real
from pyro.nn.flows.util import PassCache, check_context, check_network, check_sizes

ORDERS = ("linear", "quadratic")
MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
MIN_LAMBDA = 0.025

#: ``(widths, heights, derivatives, lambdas)``, unnormalised, each of shape ``(..., dim, n)``
#: with ``n = count_bins`` (``count_bins - 1`` for the derivatives); ``lambdas`` is ``None``
#: for the quadratic order.
SplineParams = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]


def check_order(order: str) -> str:
    """Return ``order`` if it is a spline order, else raise ``ValueError``."""
    if order not in ORDERS:
        raise ValueError(
            f"Keyword argument 'order' must be one of {list(ORDERS)}, but '{order}' was found!"
        )
    return order


def check_spline(who: str, input_dim: Any, count_bins: Any, bound: Any, order: Any) -> None:
    """Check a spline flow's settings when it is built: ``input_dim`` and ``count_bins`` ints
    >= 1, ``bound`` a positive number, ``order`` one of :data:`ORDERS`."""
    check_int(who, "input_dim", input_dim)
    check_int(who, "count_bins", count_bins)
    check_real(who, "bound", bound, positive=True)
    check_order(order)


def spline_param_dims(count_bins: int, order: str) -> List[int]:
    """The sizes of the parameters a network outputs per variable for a spline of
    ``count_bins`` bins: ``[K, K, K - 1, K]`` (``linear``) or ``[K, K, K - 1]``
    (``quadratic``)."""
    check_order(order)
    dims = [count_bins, count_bins, count_bins - 1]
    return dims + [count_bins] if order == "linear" else dims


def _knots(unnormalized: torch.Tensor, bound: float, min_size: float) -> torch.Tensor:
    """Knots ``-bound = t_0 < ... < t_K = bound`` whose gaps are a softmax of ``unnormalized``,
    each at least ``min_size * 2 * bound``."""
    count = unnormalized.shape[-1]
    sizes = min_size + (1 - min_size * count) * torch.softmax(unnormalized, dim=-1)
    inner = torch.cumsum(sizes[..., :-1], dim=-1) * (2 * bound) - bound
    ends = inner.new_full(inner.shape[:-1] + (1,), bound)
    return torch.cat([-ends, inner, ends], dim=-1)


class _Pieces(NamedTuple):
    """A spline cut into ``M`` pieces (``K`` bins, or ``2 K`` half-bins for the linear order):
    the pieces' ends in x and in y (``(..., M + 1)``), and a table of per-piece coefficients:
    one flat column ``(n * M,)`` per coefficient, for the ``n`` splines of the leading shape
    ``lead``.
    """

    x_knots: torch.Tensor
    y_knots: torch.Tensor
    table: Tuple[torch.Tensor, ...]
    lead: torch.Size


def _check_params(widths: torch.Tensor, heights: torch.Tensor, derivatives: torch.Tensor,
                  lambdas: Optional[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
    count = widths.shape[-1]
    if heights.shape[-1] != count or derivatives.shape[-1] != count - 1 or (
            lambdas is not None and lambdas.shape[-1] != count):
        shapes = [tuple(t.shape) for t in (widths, heights, derivatives, lambdas) if t is not None]
        raise ValueError(
            f"spline: the unnormalised widths, heights, derivatives (and lambdas) must end in "
            f"K, K, K - 1 (and K); got shapes {shapes}"
        )
    params = [t for t in (widths, heights, derivatives, lambdas) if t is not None]
    lead = torch.broadcast_shapes(*(t.shape[:-1] for t in params))
    return tuple(t.expand(lead + t.shape[-1:]) for t in params)


def _bins(widths: torch.Tensor, heights: torch.Tensor, derivatives: torch.Tensor,
          bound: float) -> Tuple[torch.Tensor, ...]:
    """Knots in x and y, and per bin: left ends, widths, heights, end derivatives."""
    x_knots = _knots(widths, bound, MIN_BIN_WIDTH)
    y_knots = _knots(heights, bound, MIN_BIN_HEIGHT)
    inner = MIN_DERIVATIVE + F.softplus(derivatives)
    edge = inner.new_full(inner.shape[:-1] + (1,), 1.0 - MIN_DERIVATIVE)
    d = torch.cat([edge, inner, edge], dim=-1)
    x_k, y_k = x_knots[..., :-1], y_knots[..., :-1]
    return (x_knots, y_knots, x_k, x_knots[..., 1:] - x_k, y_k, y_knots[..., 1:] - y_k,
            d[..., :-1], d[..., 1:])


def _table(columns: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
    # one flat column per coefficient: gathering 1-D columns (and scattering their gradients)
    # is several times faster than gathering the rows of one 2-D table
    return tuple(c.reshape(-1) for c in columns)


def _linear_pieces(params: Sequence[torch.Tensor], bound: float, inverse: bool) -> _Pieces:
    # Each bin is two linear-rational pieces meeting at a fraction lambda of its width, at
    # y_mid; a piece from (x_a, y_a) to (x_a + wx, y_a + dy) with weight ratio r is
    # y = y_a + g t / (1 + q t), t = x - x_a, g = r dy / wx, q = (r - 1) / wx. The weights
    # (1, w_mid, w_end) make the derivative d_k at x_k and d_{k+1} at x_{k+1}.
    widths, heights, derivatives, lambdas = params
    x_knots, y_knots, x_k, w, y_k, h, d0, d1 = _bins(widths, heights, derivatives, bound)
    lam = MIN_LAMBDA + (1 - 2 * MIN_LAMBDA) * torch.sigmoid(lambdas)
    w_end = torch.sqrt(d0 / d1)
    w_mid = (lam * d0 + (1 - lam) * w_end * d1) * w / h
    rise = lam * w_end * h / ((1 - lam) + lam * w_end)  # y_mid - y_k
    lead = widths.shape[:-1]
    pair = lead + (2 * widths.shape[-1],)

    def interleave(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.stack([left, right], dim=-1).reshape(pair)

    x_a = interleave(x_k, x_k + lam * w)
    y_a = interleave(y_k, y_k + rise)
    wx = interleave(lam * w, (1 - lam) * w)
    dy = interleave(rise, h - rise)
    r = interleave(w_mid, w_end / w_mid)
    g = r * dy / wx
    end = x_knots[..., -1:]
    knots_x, knots_y = torch.cat([x_a, end], dim=-1), torch.cat([y_a, end], dim=-1)
    if inverse:
        table = _table([y_a, x_a, g, (1 - r) / (r * dy), torch.log(g)])
    else:
        table = _table([x_a, y_a, g, (r - 1) / wx, torch.log(g)])
    return _Pieces(knots_x, knots_y, table, lead)


def _quadratic_pieces(params: Sequence[torch.Tensor], bound: float, inverse: bool) -> _Pieces:
    widths, heights, derivatives = params[:3]
    x_knots, y_knots, x_k, w, y_k, h, d0, d1 = _bins(widths, heights, derivatives, bound)
    s = h / w
    hs = s - d0
    c = d0 + d1 - 2 * s
    l2s = 2 * torch.log(s)
    if inverse:
        table = _table([y_k, x_k, w, h, s, d0, hs, c, l2s])
    else:
        table = _table([x_k, 1 / w, y_k, h, d0, s, hs, c, l2s])
    return _Pieces(x_knots, y_knots, table, widths.shape[:-1])


def _locate(v: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """Index (int32) of the piece of each ``v`` (already within the outer knots)."""
    count = knots.shape[-1] - 1
    if count == 1:
        return torch.zeros(torch.broadcast_shapes(v.shape, knots.shape[:-1]),
                           dtype=torch.int32, device=v.device)
    idx = (v >= knots[..., 1]).to(torch.int32)
    for j in range(2, count):
        idx += v >= knots[..., j]
    return idx


def _flat_index(idx: torch.Tensor, lead: torch.Size, count: int) -> torch.Tensor:
    """Column of the table of each piece index (``idx`` has the broadcast shape)."""
    if len(lead) == 0:
        return idx
    n = 1
    for size in lead:
        n *= size
    offsets = torch.arange(0, n * count, count, dtype=torch.int32, device=idx.device)
    return idx + offsets.reshape(lead)


def _take(table: Sequence[torch.Tensor], flat: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    index = flat.reshape(-1)
    return tuple(c.index_select(0, index).reshape(flat.shape) for c in table)


def _piece_of(v: torch.Tensor, knots: torch.Tensor, pieces: _Pieces,
              linear: bool) -> torch.Tensor:
    if not linear:
        return _flat_index(_locate(v, knots), pieces.lead, knots.shape[-1] - 1)
    # a bin first, then the half of it
    count = knots.shape[-1] - 1
    bins = _flat_index(_locate(v, knots[..., 0::2]), pieces.lead, count // 2)
    splits = knots[..., 1::2].detach().reshape(-1).index_select(0, bins.reshape(-1))
    return 2 * bins + (v >= splits.reshape(bins.shape))


def _pieces(params: Sequence[Optional[torch.Tensor]], bound: float, inverse: bool) -> _Pieces:
    widths, heights, derivatives, lambdas = (tuple(params) + (None,))[:4]
    checked = _check_params(widths, heights, derivatives, lambdas)
    if lambdas is None:
        return _quadratic_pieces(checked, bound, inverse)
    return _linear_pieces(checked, bound, inverse)


def spline_forward(x: torch.Tensor, unnormalized_widths: torch.Tensor,
                   unnormalized_heights: torch.Tensor, unnormalized_derivatives: torch.Tensor,
                   unnormalized_lambdas: Optional[torch.Tensor] = None,
                   bound: float = 3.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Apply a monotonic rational spline element-wise.

    Args:
        x: the input; its shape broadcasts with the parameters' leading shape ``(...)``.
        unnormalized_widths: ``(..., K)``, softmax-ed into the bin widths (each at least
            ``MIN_BIN_WIDTH * 2 * bound``).
        unnormalized_heights: ``(..., K)``, softmax-ed into the bin heights.
        unnormalized_derivatives: ``(..., K - 1)``, the derivatives at the interior knots
            (``MIN_DERIVATIVE + softplus``); the two outer knots get ``1 - MIN_DERIVATIVE``.
        unnormalized_lambdas: ``(..., K)``, the split points of the linear order
            (``MIN_LAMBDA + (1 - 2 MIN_LAMBDA) sigmoid``); ``None`` for the quadratic order.
        bound: the spline covers ``[-bound, bound]`` and is the identity outside.

    Returns:
        ``(y, log |dy/dx|)``, both of the broadcast shape.
    """
    params = (unnormalized_widths, unnormalized_heights, unnormalized_derivatives,
              unnormalized_lambdas)
    pieces = _pieces(params, bound, inverse=False)
    inside = (x >= -bound) & (x <= bound)
    xc = x.clamp(-bound, bound)
    flat = _piece_of(xc, pieces.x_knots, pieces, unnormalized_lambdas is not None)
    if unnormalized_lambdas is not None:
        x_a, y_a, g, q, log_g = _take(pieces.table, flat)
        t = xc - x_a
        den = 1 + q * t
        y = y_a + g * t / den
        log_det = log_g - 2 * torch.log(den)
    else:
        x_k, inv_w, y_k, h, d0, s, hs, c, l2s = _take(pieces.table, flat)
        theta = (xc - x_k) * inv_w
        den = s + c * theta * (1 - theta)
        y = y_k + h * theta * (d0 + hs * theta) / den
        log_det = l2s + torch.log(d0 + theta * (2 * hs + c * theta)) - 2 * torch.log(den)
    return torch.where(inside, y, x), torch.where(inside, log_det, torch.zeros_like(log_det))


def spline_inverse(y: torch.Tensor, unnormalized_widths: torch.Tensor,
                   unnormalized_heights: torch.Tensor, unnormalized_derivatives: torch.Tensor,
                   unnormalized_lambdas: Optional[torch.Tensor] = None,
                   bound: float = 3.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Invert :func:`spline_forward` element-wise, in closed form.

    Returns:
        ``(x, log |dy/dx|)``: the input that maps to ``y``, and the *forward* log-derivative at
        it (the inverse's own is its negative).
    """
    params = (unnormalized_widths, unnormalized_heights, unnormalized_derivatives,
              unnormalized_lambdas)
    pieces = _pieces(params, bound, inverse=True)
    inside = (y >= -bound) & (y <= bound)
    yc = y.clamp(-bound, bound)
    flat = _piece_of(yc, pieces.y_knots, pieces, unnormalized_lambdas is not None)
    if unnormalized_lambdas is not None:
        y_a, x_a, g, p, log_g = _take(pieces.table, flat)
        u = yc - y_a
        den = 1 + p * u
        x = x_a + u / (g * den)
        log_det = log_g + 2 * torch.log(den)
    else:
        y_k, x_k, w, h, s, d0, hs, c, l2s = _take(pieces.table, flat)
        # rise * den(theta) = h theta (d0 + hs theta) is a quadratic in theta; its root in
        # [0, 1] is taken in the form that does not cancel.
        rise = yc - y_k
        a = h * hs + rise * c
        b = h * d0 - rise * c
        cc = -s * rise
        disc = (b * b - 4 * a * cc).clamp(min=0)
        theta = (2 * cc / (-b - torch.sqrt(disc))).clamp(0, 1)
        x = x_k + theta * w
        den = s + c * theta * (1 - theta)
        log_det = l2s + torch.log(d0 + theta * (2 * hs + c * theta)) - 2 * torch.log(den)
    return torch.where(inside, x, y), torch.where(inside, log_det, torch.zeros_like(log_det))


# ----- the element-wise flows ----------------------------------------------------------------
class ConditionedSpline(Transform):
    """An element-wise spline with given parameters (what :class:`ConditionalSpline` returns
    for one context).

    Args:
        params: the unnormalised ``(widths, heights, derivatives, lambdas)``, each
            ``(..., dim, n)``, or a zero-argument callable returning them (evaluated at each
            pass, so learnt parameters stay current).
        bound: the spline covers ``[-bound, bound]``; it is the identity outside.
        order: ``"linear"`` or ``"quadratic"``.
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True
    sign = +1

    def __init__(self, params: Union[SplineParams, Callable[[], SplineParams], None],
                 bound: float = 3.0, order: str = "linear") -> None:
        super().__init__(cache_size=1)
        check_real(type(self).__name__, "bound", bound, positive=True)
        self._params = params
        self.order = check_order(order)
        self.bound = bound
        self._log_det = PassCache()

    def spline_params(self) -> SplineParams:
        """The unnormalised spline parameters of this pass."""
        params = self._params
        return params() if callable(params) else params

    def spline_op(self, v: torch.Tensor, inverse: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Map ``v`` forward (or back, ``inverse=True``) with the current parameters; return the
        result and the forward ``log |dy/dx|`` of the pair."""
        w, h, d, lam = self.spline_params()
        if self.order == "quadratic":
            lam = None
        op = spline_inverse if inverse else spline_forward
        return op(v, w, h, d, lam, bound=self.bound)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y, log_det = self.spline_op(x)
        self._log_det.save(x, log_det)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        x, log_det = self.spline_op(y, inverse=True)
        self._log_det.save(x, log_det)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |dy/dx|`` element-wise (shaped like ``x``)."""
        log_det = self._log_det.get(self, x, y)
        if log_det is None:
            log_det = self.spline_op(x)[1]
        return log_det


class Spline(ConditionedSpline, TransformModule):
    """An element-wise monotonic rational spline with learnt knots, derivatives and (linear
    order) split points; the identity outside ``[-bound, bound]``.

    Its parameters are ``unnormalized_widths``, ``unnormalized_heights`` (``(input_dim,
    count_bins)``), ``unnormalized_derivatives`` (``(input_dim, count_bins - 1)``) and, for
    ``order="linear"``, ``unnormalized_lambdas`` (``(input_dim, count_bins)``). The map is
    cached: inverting the value it last produced is free, and the log-det of that pair reuses
    the forward pass. Any other value is inverted exactly, in closed form.

    Args:
        input_dim: size of the last dimension of the values it maps.
        count_bins: number of bins of the spline.
        bound: the spline covers ``[-bound, bound]``.
        order: ``"linear"`` (linear-rational) or ``"quadratic"`` (rational-quadratic).

    Example::

        base = dist.Normal(torch.zeros(2), torch.ones(2))
        flow = Spline(2, count_bins=8)
        flow_dist = dist.TransformedDistribution(base, [flow])
        flow_dist.log_prob(flow_dist.sample())
    """

    def __init__(self, input_dim: int, count_bins: int = 8, bound: float = 3.0,
                 order: str = "linear") -> None:
        check_spline(type(self).__name__, input_dim, count_bins, bound, order)
        super().__init__(None, bound=bound, order=order)
        self.input_dim = input_dim
        self.count_bins = count_bins
        self.unnormalized_widths = torch.nn.Parameter(torch.randn(input_dim, count_bins))
        self.unnormalized_heights = torch.nn.Parameter(torch.randn(input_dim, count_bins))
        self.unnormalized_derivatives = torch.nn.Parameter(torch.randn(input_dim, count_bins - 1))
        if order == "linear":
            self.unnormalized_lambdas = torch.nn.Parameter(torch.rand(input_dim, count_bins))

    def spline_params(self) -> SplineParams:
        """The module's own parameters."""
        lam = self.unnormalized_lambdas if self.order == "linear" else None
        return (self.unnormalized_widths, self.unnormalized_heights,
                self.unnormalized_derivatives, lam)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1:] != (self.input_dim,):
            raise ValueError(
                f"Spline: input of shape {tuple(x.shape)} must end in input_dim = {self.input_dim}"
            )
        return super()._call(x)


def network_spline_params(out: Any, input_dim: int, count_bins: int, order: str,
                          flat: bool) -> SplineParams:
    """Shape a network's outputs into spline parameters ``(..., input_dim, n)``.

    ``out`` holds three (quadratic) or four (linear) tensors: flat ones, ``(..., input_dim * n)``
    as a dense network gives (``flat=True``), or ``(..., n, input_dim)`` as an autoregressive
    network gives.
    """
    want = 4 if order == "linear" else 3
    if isinstance(out, torch.Tensor) or len(out) != want:
        got = "one tensor" if isinstance(out, torch.Tensor) else f"{len(out)} tensors"
        raise ValueError(
            f"spline ({order} order): the network must return {want} tensors (widths, heights, "
            f"derivatives{', lambdas' if want == 4 else ''}), got {got}"
        )
    dims = spline_param_dims(count_bins, order)
    params = []
    for t, n in zip(out, dims):
        if flat:
            if t.shape[-1] != input_dim * n:
                raise ValueError(
                    f"spline: a network output of shape {tuple(t.shape)} must end in "
                    f"input_dim * {n} = {input_dim * n}"
                )
            params.append(t.reshape(t.shape[:-1] + (input_dim, n)))
        else:
            if t.shape[-2:] != (n, input_dim):
                raise ValueError(
                    f"spline: a network output of shape {tuple(t.shape)} must end in "
                    f"({n}, {input_dim})"
                )
            params.append(t.transpose(-1, -2))
    if want == 3:
        params.append(None)
    return tuple(params)  # type: ignore[return-value]


class ConditionalSpline(ConditionalTransformModule):
    """An element-wise spline whose parameters a network computes from a context.

    ``condition(context)`` returns a :class:`ConditionedSpline`.

    Args:
        nn: a network mapping a context ``(..., context_dim)`` to the unnormalised widths,
            heights, derivatives and (linear order) lambdas, flat:
            ``(..., input_dim * count_bins)`` etc., e.g. a ``DenseNN`` with ``param_dims`` as
            :func:`conditional_spline` builds. An autoregressive network's outputs
            ``(..., n, input_dim)`` are accepted too.
        input_dim: number of variables the spline maps.
        count_bins: number of bins.
        bound: the spline covers ``[-bound, bound]``.
        order: ``"linear"`` or ``"quadratic"``.
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, nn: Callable[..., Any], input_dim: int, count_bins: int,
                 bound: float = 3.0, order: str = "linear") -> None:
        super().__init__()
        check_network(type(self).__name__, "nn", nn)
        check_spline(type(self).__name__, input_dim, count_bins, bound, order)
        self.nn = nn
        self.input_dim = input_dim
        self.count_bins = count_bins
        self.bound = bound
        self.order = order

    def _params(self, context: torch.Tensor) -> SplineParams:
        out = self.nn(context)
        first = out[0] if isinstance(out, (tuple, list)) else out
        flat = first.dim() == context.dim()
        return network_spline_params(out, self.input_dim, self.count_bins, self.order, flat)

    def condition(self, context: torch.Tensor) -> ConditionedSpline:
        """The spline for ``context``."""
        check_context(type(self).__name__, self.nn, context, alone=True)
        return ConditionedSpline(functools.partial(self._params, context), bound=self.bound,
                                 order=self.order)


def spline(input_dim: int, **kwargs: Any) -> Spline:
    """Build a :class:`Spline` of ``input_dim`` variables (``count_bins``, ``bound`` and
    ``order`` are passed on)."""
    return Spline(input_dim, **kwargs)


def conditional_spline(input_dim: int, context_dim: int,
                       hidden_dims: Optional[Sequence[int]] = None, count_bins: int = 8,
                       bound: float = 3.0, order: str = "linear") -> ConditionalSpline:
    """Build a :class:`ConditionalSpline` with a ``DenseNN`` from the context to its parameters.

    Args:
        input_dim: number of variables the spline maps.
        context_dim: size of the context.
        hidden_dims: the network's hidden widths (default ``[10 * input_dim, 10 * input_dim]``).
        count_bins, bound, order: as for :class:`Spline`.
    """
    check_sizes("conditional_spline", input_dim, hidden_dims, context_dim)
    check_spline("conditional_spline", input_dim, count_bins, bound, order)
    if hidden_dims is None:
        hidden_dims = [input_dim * 10, input_dim * 10]
    param_dims = [input_dim * n for n in spline_param_dims(count_bins, order)]
    net = DenseNN(context_dim, list(hidden_dims), param_dims=param_dims)
    return ConditionalSpline(net, input_dim, count_bins, bound=bound, order=order)


# The flow names (registered into pyro.distributions.transforms); the spline maths above
# (spline_forward, spline_inverse, spline_param_dims, network_spline_params, check_order) is
# imported by name by the other spline flows.
__all__ = ["ConditionalSpline", "ConditionedSpline", "Spline", "conditional_spline", "spline"]
