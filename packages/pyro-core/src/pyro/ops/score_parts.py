"""The three parts of a site's contribution to a surrogate ELBO, and scale/mask helpers."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


def scale_and_mask(tensor: Any, scale: Any = 1.0, mask: Any = None) -> Any:
    """Multiply ``tensor`` by ``scale`` and zero it where ``mask`` is False.

    Args:
        tensor: a log-density (tensor or number).
        scale: a number or tensor broadcastable with ``tensor``.
        mask: ``None`` (keep everything), a bool, or a bool tensor broadcastable with ``tensor``.

    Returns:
        The scaled and masked value. Masked-out entries are exactly zero even where
        ``tensor`` is ``-inf`` or ``nan``.
    """
    if isinstance(tensor, (int, float)) and tensor == 0:
        return tensor
    if not (isinstance(scale, (int, float)) and scale == 1.0):
        tensor = tensor * scale
    if mask is None or mask is True:
        return tensor
    if not isinstance(tensor, torch.Tensor):
        tensor = torch.as_tensor(tensor, device=getattr(mask, "device", None))
    if mask is False:
        return torch.zeros_like(tensor)
    return torch.where(mask, tensor, tensor.new_zeros(()))

class ScoreParts(NamedTuple):
    """A site's ``log_prob``, its ``score_function`` term and its ``entropy_term``.

    The ELBO's surrogate loss is built from these: the score function multiplies the
    downstream cost for non-reparameterised sites, the entropy term carries reparameterised
    gradients.
    """

    log_prob: Any
    score_function: Any
    entropy_term: Any

    def scale_and_mask(self, scale: Any = 1.0, mask: Any = None) -> "ScoreParts":
        """Return the parts with the log-prob and entropy term scaled and all three masked.

        The score function is masked but not scaled: it multiplies an already scaled cost. An
        entropy term that is the log-prob itself comes back as the same (scaled) tensor.
        """
        log_prob = scale_and_mask(self.log_prob, scale, mask)
        score_function = self.score_function
        if isinstance(score_function, torch.Tensor):
            score_function = scale_and_mask(score_function, 1.0, mask)
        if self.entropy_term is self.log_prob:
            entropy_term = log_prob
        else:
            entropy_term = scale_and_mask(self.entropy_term, scale, mask)
        return ScoreParts(log_prob, score_function, entropy_term)
