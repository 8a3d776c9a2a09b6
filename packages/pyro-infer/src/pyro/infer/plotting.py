"""Plot a training loss curve (the optional extra ``pyro-infer[plot]``: matplotlib)."""

from __future__ import annotations

import numbers
import os
from typing import Any, List, Optional, Sequence, Union

import torch

_MISSING_MATPLOTLIB = ('plot_losses needs matplotlib: pip install "pyro-infer[plot]" '
                       "(or pip install matplotlib)")


def _as_floats(losses: Union[Sequence[float], torch.Tensor]) -> List[float]:
    if isinstance(losses, torch.Tensor):
        if losses.dim() != 1:
            raise ValueError(f"plot_losses: losses must be 1-D, got shape {tuple(losses.shape)}")
        values = losses.detach().cpu().double().tolist()
    elif isinstance(losses, (str, bytes)) or not hasattr(losses, "__iter__"):
        raise TypeError(f"plot_losses: losses must be a sequence of numbers or a 1-D tensor, "
                        f"got {type(losses).__name__}")
    else:
        values = [_as_float(i, v) for i, v in enumerate(losses)]
    if not values:
        raise ValueError("plot_losses: losses is empty")
    return values


def _as_float(index: int, value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    raise TypeError(f"plot_losses: losses[{index}] must be a number, got "
                    f"{type(value).__name__} {value!r}"[:160])


def _check_smooth(smooth: Any) -> None:
    if smooth is None:
        return
    if isinstance(smooth, bool) or not isinstance(smooth, numbers.Real):
        raise TypeError(f"plot_losses: smooth must be a number in [0, 1) or None, got "
                        f"{type(smooth).__name__} {smooth!r}")
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"plot_losses: smooth must be in [0, 1), got {smooth}")


def smooth_losses(losses: Union[Sequence[float], torch.Tensor],
                  smooth: Optional[float] = 0.9) -> List[float]:
    """Exponential moving average of ``losses`` with bias correction.

    ``s_t = smooth * s_{t-1} + (1 - smooth) * loss_t`` from ``s_{-1} = 0``, reported as
    ``s_t / (1 - smooth ** (t + 1))`` so that the start is not pulled towards 0. ``smooth`` is in
    ``[0, 1)``; ``0`` or ``None`` returns the losses unchanged.
    """
    _check_smooth(smooth)
    values = _as_floats(losses)
    if not smooth:
        return values
    out, state = [], 0.0
    for t, value in enumerate(values):
        state = smooth * state + (1.0 - smooth) * value
        out.append(state / (1.0 - smooth ** (t + 1)))
    return out


def plot_losses(losses: Union[Sequence[float], torch.Tensor], filename: Optional[str] = None,
                smooth: Optional[float] = 0.9) -> Any:
    """Draw a loss curve (raw, faint; smoothed, solid) with its final value marked.

    Args:
        losses: the loss of each step (e.g. what ``SVI.run`` returns).
        filename: where to save the picture (format from the suffix: ``.png``, ``.svg``,
            ``.pdf``); nothing is written when None.
        smooth: the moving-average factor of :func:`smooth_losses` (0 or None: no smoothing).

    Returns:
        the ``matplotlib.figure.Figure`` (built without pyplot, so it works headless).

    Raises:
        TypeError: ``losses`` that are not numbers, a ``smooth`` that is not a number, a
            ``filename`` that is neither a str, a path nor a file.
        ValueError: empty ``losses``, a ``smooth`` outside ``[0, 1)``, a tensor of losses
            that is not 1-D.
        ImportError: when matplotlib is missing.
    """
    if filename is not None and not isinstance(filename, (str, os.PathLike)) \
            and not hasattr(filename, "write"):
        raise TypeError(f"plot_losses: filename must be a str, a path or a binary file, got "
                        f"{type(filename).__name__} {filename!r}")
    values = _as_floats(losses)
    smoothed = smooth_losses(values, smooth)
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(_MISSING_MATPLOTLIB) from e
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    steps = list(range(len(values)))
    if smooth:
        ax.plot(steps, values, color="tab:blue", alpha=0.3, linewidth=1, label="loss")
        ax.plot(steps, smoothed, color="tab:blue", linewidth=2, label="smoothed")
    else:
        ax.plot(steps, values, color="tab:blue", linewidth=2, label="loss")
    final = smoothed[-1]
    ax.plot([steps[-1]], [final], "o", color="tab:red")
    ax.annotate(f"{final:.4g}", (steps[-1], final), textcoords="offset points", xytext=(-10, 8),
                ha="right", color="tab:red")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="upper right")
    fig.tight_layout()
    if filename is not None:
        fig.savefig(filename)
    return fig
