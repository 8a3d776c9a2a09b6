"""``seed``: run with fixed random number generator seeds, restoring the old state afterwards."""

from __future__ import annotations

from typing import Any

from pyro.poutine.messenger import Messenger
from pyro.util import get_rng_state, set_rng_seed, set_rng_state


class SeedMessenger(Messenger):
    """Seed torch's, Python's and (if installed) NumPy's generators on entry; restore on exit.

    As in Pyro, the messenger handles no site, so it does not go on the handler stack: inside
    ``seed`` alone, ``am_i_wrapped()`` is false and the primitives take their fast path.

    Args:
        rng_seed: the seed.
    """

    def __init__(self, rng_seed: int) -> None:
        super().__init__()
        if not isinstance(rng_seed, int):
            raise TypeError(f"seed expects an int rng_seed, got {type(rng_seed).__name__}")
        self.rng_seed = rng_seed

    def __enter__(self) -> "SeedMessenger":
        self._old_state = get_rng_state()
        set_rng_seed(self.rng_seed)
        return self

    def __exit__(self, *args: Any) -> None:
        set_rng_state(self._old_state)
