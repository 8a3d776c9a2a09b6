"""``ScoreParts``: re-exported from pyro-core's :mod:`pyro.ops.score_parts`."""

from pyro.ops.score_parts import ScoreParts, scale_and_mask

__all__ = ["ScoreParts", "scale_and_mask"]
