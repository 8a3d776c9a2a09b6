"""Block neural autoregressive flows (De Cao et al., 2019): a small feed-forward network whose
weight matrices are block lower-triangular, with positive diagonal blocks, so that the whole
network is an autoregressive, strictly increasing map in the natural order of the variables.

The log-determinant is tracked through the layers as the logarithm of the diagonal blocks of the
Jacobian (a ``(input_dim, out, in)`` tensor per vector), multiplied layer by layer in log space.
There is no analytic inverse: only the value the flow last produced can be inverted (from torch's
cache).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import check_int, check_int_list
from pyro.nn.flows.util import OnePassNoInverse, PassCache, activation_transform

def log_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(exp(a) @ exp(b))`` over the last two dims, computed stably."""
    return torch.logsumexp(a.unsqueeze(-1) + b.unsqueeze(-3), dim=-2)


class MaskedBlockLinear(torch.nn.Module):
    """A linear layer of a block autoregressive network over ``dim`` variables: a weight of
    ``dim x dim`` blocks, each ``(out_features // dim, in_features // dim)``, zero above the
    block diagonal and strictly positive on it (``exp`` of the raw weight), with every row
    rescaled to the length ``exp(_diag_weight)`` (weight normalisation).

    Args:
        in_features: input size, a multiple of ``dim``.
        out_features: output size, a multiple of ``dim``.
        dim: the number of autoregressive variables.
        bias: add a learned bias.
    """

    def __init__(self, in_features: int, out_features: int, dim: int, bias: bool = True) -> None:
        super().__init__()
        if in_features % dim or out_features % dim:
            raise ValueError(
                f"MaskedBlockLinear: in_features={in_features} and out_features={out_features} "
                f"must be multiples of dim={dim}"
            )
        self.in_features, self.out_features, self.dim = in_features, out_features, dim
        b_in, b_out = in_features // dim, out_features // dim
        block_row = torch.arange(out_features) // b_out
        block_col = torch.arange(in_features) // b_in
        self.register_buffer("mask_d", (block_row[:, None] == block_col[None, :]).float())
        self.register_buffer("mask_o", (block_row[:, None] > block_col[None, :]).float())
        self._weight = torch.nn.Parameter(torch.zeros(out_features, in_features))
        self._diag_weight = torch.nn.Parameter(torch.empty(out_features, 1))
        self.bias = torch.nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights on each block row's visible part, ``log U(0, 1)`` row scales,
        bias uniform in ``+-1/sqrt(out_features)``."""
        b_in, b_out = self.in_features // self.dim, self.out_features // self.dim
        with torch.no_grad():
            self._weight.zero_()
            for i in range(self.dim):
                torch.nn.init.xavier_uniform_(
                    self._weight[i * b_out:(i + 1) * b_out, :(i + 1) * b_in]
                )
            self._diag_weight.uniform_().log_()
            if self.bias is not None:
                bound = 1.0 / math.sqrt(self.out_features)
                self.bias.uniform_(-bound, bound)

    def weight_and_log_diag(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The masked, normalised weight and the log of its diagonal blocks, of shape
        ``(dim, out_features // dim, in_features // dim)``."""
        w = torch.exp(self._weight) * self.mask_d + self._weight * self.mask_o
        sq_norm = (w * w).sum(-1, keepdim=True)
        weight = torch.exp(self._diag_weight) * w * torch.rsqrt(sq_norm)
        log_w = self._diag_weight + self._weight - 0.5 * torch.log(sq_norm)
        b_in, b_out = self.in_features // self.dim, self.out_features // self.dim
        log_diag = log_w[self.mask_d.bool()].reshape(self.dim, b_out, b_in)
        return weight, log_diag

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(outputs, log_diag)``: the layer applied to ``inputs`` and the log of the
        diagonal blocks of its (input-independent) Jacobian."""
        weight, log_diag = self.weight_and_log_diag()
        return F.linear(inputs, weight, self.bias), log_diag


class BlockAutoregressive(OnePassNoInverse, TransformModule):
    r"""A block neural autoregressive flow (BNAF, De Cao et al. 2019): ``y = f(x)`` with ``f`` a
    feed-forward network of :class:`MaskedBlockLinear` layers (sizes ``input_dim *
    hidden_factors[k]``) and the element-wise bijection ``activation`` between them. Output ``i``
    depends on inputs ``0..i`` only, increasingly in input ``i``.

    With ``residual='normal'`` the flow is ``y = x + f(x)``; with ``residual='gated'`` it is
    ``y = g x + (1 - g) f(x)`` with a learned gate ``g = sigmoid(gate)`` (parameter ``gate`` of
    shape ``(1,)``, initialised from a standard normal).

    The log-determinant is computed during the forward pass and reused for the pair in torch's
    cache (``cache_size=1``). There is no analytic inverse: ``inv`` of the value the flow last
    produced returns its input; any other value raises ``KeyError``. So use it where only
    samples are scored (a guide, or ``TransformedDistribution.rsample`` then ``log_prob``).

    Args:
        input_dim: size of the vectors the flow maps.
        hidden_factors: widths of the hidden layers, as multiples of ``input_dim``.
        activation: 'ELU', 'LeakyReLU', 'sigmoid' or 'tanh'.
        residual: None, 'normal' or 'gated'.

    Example::

        flow = BlockAutoregressive(2)
        flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(2), 1.0).to_event(1),
                                                 [flow])
        y = flow_dist.rsample((100,))
        flow_dist.log_prob(y)  # from the cache
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    autoregressive = True

    def __init__(self, input_dim: int, hidden_factors: Sequence[int] = [8, 8],  # noqa: B006
                 activation: str = "tanh", residual: Optional[str] = None) -> None:
        super().__init__(cache_size=1)
        check_int("BlockAutoregressive", "input_dim", input_dim)
        check_int_list("BlockAutoregressive", "hidden_factors", hidden_factors)
        if residual not in (None, "normal", "gated"):
            raise ValueError(
                f'BlockAutoregressive: invalid value {residual} for keyword argument "residual"; '
                "expected None, 'normal' or 'gated'"
            )
        self.T = activation_transform(activation, "BlockAutoregressive")
        self.residual = residual
        self.input_dim = input_dim
        sizes = [input_dim] + [input_dim * int(h) for h in hidden_factors] + [input_dim]
        self.layers = torch.nn.ModuleList(
            MaskedBlockLinear(sizes[k], sizes[k + 1], input_dim) for k in range(len(sizes) - 1)
        )
        if residual == "gated":
            self.gate = torch.nn.Parameter(torch.randn(1))
        # (x, log-det at x) of the last forward pass
        self._log_det = PassCache()

    def _forward_and_log_det(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.input_dim:
            raise ValueError(
                f"BlockAutoregressive: input of shape {tuple(x.shape)}, expected its last dim to "
                f"be input_dim={self.input_dim}"
            )
        h = x
        log_jac: Optional[torch.Tensor] = None  # (..., input_dim, out, in) diagonal blocks
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            h, log_diag = layer(h)
            log_jac = log_diag if log_jac is None else log_matmul(log_diag, log_jac)
            if k < last:
                pre = h
                h = self.T(pre)
                log_act = self.T.log_abs_det_jacobian(pre, h)
                log_act = log_act.reshape(pre.shape[:-1] + (self.input_dim, -1, 1))
                log_jac = log_act + log_jac
        assert log_jac is not None
        log_diag_f = log_jac.reshape(log_jac.shape[:-3] + (self.input_dim,))
        if log_diag_f.dim() < x.dim():  # a network of one layer: no input dependence yet
            log_diag_f = log_diag_f.expand(x.shape)
        if self.residual == "normal":
            return x + h, F.softplus(log_diag_f).sum(-1)
        if self.residual == "gated":
            g = torch.sigmoid(self.gate)
            log_g, log_1mg = F.logsigmoid(self.gate), F.logsigmoid(-self.gate)
            y = g * x + (1 - g) * h
            return y, torch.logaddexp(log_1mg + log_diag_f, log_g).sum(-1)
        return h, log_diag_f.sum(-1)


def block_autoregressive(input_dim: int, **kwargs: object) -> BlockAutoregressive:
    """Build a :class:`BlockAutoregressive` flow.

    Args:
        input_dim: size of the vectors the flow maps.
        **kwargs: passed on (``hidden_factors``, ``activation``, ``residual``).
    """
    return BlockAutoregressive(input_dim, **kwargs)  # type: ignore[arg-type]


__all__ = ["BlockAutoregressive", "block_autoregressive"]  # MaskedBlockLinear: internal
