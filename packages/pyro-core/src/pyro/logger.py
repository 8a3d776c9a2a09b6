"""``pyro.log``: the ``"pyro"`` logger, which prints INFO and above to stderr as Pyro's does."""

import logging

#: Format of the records the default handler prints.
default_format = "%(levelname)s \t %(message)s"

log = logging.getLogger("pyro")
log.setLevel(logging.INFO)
# One handler however often this module is reloaded; records stay out of the root logger.
default_handler = next(
    (h for h in log.handlers if getattr(h, "_pyro_default", False)), None
) or logging.StreamHandler()
if default_handler not in log.handlers:
    default_handler._pyro_default = True  # type: ignore[attr-defined]
    default_handler.setLevel(logging.INFO)
    default_handler.setFormatter(logging.Formatter(default_format))
    log.addHandler(default_handler)
log.propagate = False

__all__ = ["default_format", "default_handler", "log"]
