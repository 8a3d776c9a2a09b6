"""``seed``: run with fixed random number generator seeds, restoring the old state afterwards."""

from __future__ import annotations

from typing import Any

from pyro.poutine.messenger import Messenger
from pyro.util import get_rng_state, set_rng_seed, set_rng_state


class SeedMessenger(Messenger):
    """Seed torch's, Python's and (if installed) NumPy's generators on entry; restore on exit.

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
        return super().__enter__()

    def __exit__(self, *args: Any) -> None:
        set_rng_state(self._old_state)
        return super().__exit__(*args)
