"""``plate``: conditional independence, subsampling and broadcasting over a batch dimension."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, NamedTuple, Optional, Sequence

import torch

from pyro.poutine._plate_checks import check_plate_args, check_plate_sizes, check_plate_subsample
from pyro.poutine.messenger import Messenger
from pyro.poutine.runtime import _DIM_ALLOCATOR, _PYRO_STACK, apply_stack, new_message


class CondIndepStackFrame(NamedTuple):
    """One enclosing plate as seen by a site: its name, dim, (subsampled) size and iteration.

    ``dim`` is None for a sequential plate; ``counter`` tells its iterations apart.
    ``full_size`` is the size before subsampling.
    """

    name: str
    dim: Optional[int]
    size: int
    counter: int
    full_size: Optional[int] = None

    @property
    def vectorized(self) -> bool:
        """Whether the plate is a batch dimension (True) or a sequential loop (False)."""
        return self.dim is not None

    @property
    def subsample_size(self) -> int:
        return self.size

    def __str__(self) -> str:
        # As in Pyro: ``str(frame)`` is the plate's name; ``repr`` shows every field.
        return self.name


class _Subsample(torch.distributions.Distribution):
    """The distribution of a plate's index subsample: a uniform random subset without replacement.

    Its log-density is zero: the subsample only rescales the other sites.
    """

    arg_constraints: Dict[str, Any] = {}

    def __init__(self, size: int, subsample_size: Optional[int], use_cuda: Optional[bool] = None,
                 device: Any = None) -> None:
        self.size = size
        self.subsample_size = size if subsample_size is None else subsample_size
        if device is None and use_cuda:
            device = "cuda"
        # None means torch's default device, resolved by torch when indices are made; looking
        # it up here (torch.get_default_device) would cost more than the rest of a plate.
        self._device = None if device is None else torch.device(device)
        super().__init__(validate_args=False)

    @property
    def device(self) -> torch.device:
        """The device of the indices."""
        return torch.get_default_device() if self._device is None else self._device

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        if sample_shape:
            raise NotImplementedError("a plate subsample cannot be drawn with a sample_shape")
        if self.subsample_size >= self.size:
            return torch.arange(self.size, device=self._device)
        return torch.randperm(self.size, device=self._device)[: self.subsample_size]

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.sample()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return torch.zeros((), device=self._device)


def _draw_subsample(name: str, size: Optional[int], subsample_size: Optional[int],
                    subsample: Any, use_cuda: Optional[bool], device: Any) -> tuple:
    """Return ``(size, subsample_size, subsample as given or drawn, subsample as a tensor)``."""
    if (type(size) is not int and size is not None) or (type(subsample_size) is not int and subsample_size is not None):
        check_plate_sizes(name, size, subsample_size)
    if subsample is not None:
        check_plate_subsample(name, size, subsample)
    if size is None:
        if subsample is not None:
            size = len(subsample)
        else:
            if subsample_size is not None:
                raise ValueError(f"plate '{name}': subsample_size needs a size")
            return -1, -1, None, None
    if size <= 0:
        raise ValueError(f"plate '{name}': size must be positive, got {size}")
    if subsample_size is not None and not 0 < subsample_size <= size:
        raise ValueError(
            f"plate '{name}': subsample_size must be in 1..size={size}, got {subsample_size}"
        )
    fn = _Subsample(size, subsample_size, use_cuda, device)
    if subsample is None and not _PYRO_STACK:
        subsample = fn.sample()
    elif _PYRO_STACK:
        msg = new_message("sample", name, fn, value=subsample)
        apply_stack(msg)
        subsample = msg["value"]
    # A subsample given as a list (or replayed as one) is what ``with plate(...) as ind`` yields,
    # as in Pyro; the plate indexes params and data with a tensor of it.
    indices = subsample
    if not isinstance(indices, torch.Tensor):
        indices = torch.as_tensor(indices, device=fn._device)
    if subsample_size is None:
        subsample_size = int(indices.shape[0])
    elif subsample_size != indices.shape[0]:
        raise ValueError(
            f"plate '{name}': subsample_size={subsample_size} but the subsample has "
            f"{indices.shape[0]} indices; did the model and guide use different subsample_size?"
        )
    return size, subsample_size, subsample, indices


class PlateMessenger(Messenger):
    """Declare sites as conditionally independent along a batch dim, optionally subsampled.

    As a context manager the plate is vectorized: enclosed sample distributions are expanded to
    ``subsample_size`` along ``dim`` and their log-densities scaled by ``size / subsample_size``;
    ``with plate(...) as ind`` yields the subsample's indices. Iterated, the plate is sequential:
    each iteration yields one index as a Python int and marks its sites as a separate iteration.

    A plate without a size (``plate("p")``) declares the dim independent whatever its size:
    sites are not broadcast and their frames carry ``size=-1``. A ``subsample`` is yielded as
    given (a list stays a list).

    Args:
        name: plate name, matched between model and guide.
        size: size of the full collection (``None``: taken from ``subsample`` or unknown).
        subsample_size: size of the random minibatch to draw (default: no subsampling).
        subsample: explicit indices to use instead of a random minibatch.
        dim: negative batch dim to use; allocated automatically (rightmost free) when None.
        use_cuda: deprecated; use ``device``.
        device: device of the indices (default: torch's default device).
    """

    def __init__(self, name: str, size: Optional[int] = None, subsample_size: Optional[int] = None,
                 subsample: Any = None, dim: Optional[int] = None, use_cuda: Optional[bool] = None,
                 device: Any = None) -> None:
        super().__init__()
        if type(name) is not str or (dim is not None and type(dim) is not int):
            check_plate_args(name, dim)
        if dim is not None and dim >= 0:
            raise ValueError(f"plate '{name}': dim must be negative, got dim={dim}")
        self.name = name
        self._user_dim = dim
        self.dim = dim
        self.counter = 0
        self._vectorized: Optional[bool] = None
        self.size, self.subsample_size, self._subsample, self._indices = _draw_subsample(
            name, size, subsample_size, subsample, use_cuda, device
        )
        self._scale = 1.0 if self.size == self.subsample_size else self.size / self.subsample_size

    @property
    def indices(self) -> torch.Tensor:
        """The (sub)sample of indices this plate iterates over, as a tensor."""
        if self._indices is None:
            raise ValueError(f"plate '{self.name}' has no size, so it has no indices")
        return self._indices

    def __enter__(self) -> Any:
        if self._vectorized is not False:
            self._vectorized = True
            self.dim = _DIM_ALLOCATOR.allocate(self.name, self._user_dim)
        # What every enclosed site sees of this plate (this entry, this iteration).
        self._frame = CondIndepStackFrame(self.name, self.dim, self.subsample_size, self.counter,
                                          self.size)
        super().__enter__()
        return self._subsample

    def __exit__(self, *args: Any) -> None:
        if self._vectorized:
            _DIM_ALLOCATOR.free(self.name, self.dim)
        return super().__exit__(*args)

    def __iter__(self) -> Iterator[int]:
        if self._vectorized:
            raise ValueError(f"plate '{self.name}' is already used as a context; it cannot be iterated")
        self._vectorized = False
        self.dim = None
        for i in self.indices.tolist():
            # As in Pyro, the counter is advanced before each iteration (the first one is 1).
            self.counter += 1
            with self:
                yield i

    def __len__(self) -> int:
        if self.subsample_size < 0:
            # TypeError: ``list(plate)`` then asks __iter__, which says what is wrong.
            raise TypeError(f"plate '{self.name}' has no size, so it has no length")
        return self.subsample_size

    def _process_message(self, msg: Dict[str, Any]) -> None:
        msg["cond_indep_stack"] = (self._frame,) + msg["cond_indep_stack"]
        if msg["type"] != "sample":
            return
        if self._scale != 1.0:
            msg["scale"] = self._scale * msg["scale"]
        if self.dim is not None and not msg["done"]:
            self._broadcast(msg)

    def _broadcast(self, msg: Dict[str, Any]) -> None:
        fn = msg["fn"]
        batch_shape = getattr(fn, "batch_shape", None)
        if batch_shape is None or type(fn) is _Subsample or self.subsample_size == -1:
            return
        dim, size = self.dim, self.subsample_size
        if len(batch_shape) >= -dim:
            existing = batch_shape[dim]
            if existing == size:
                return
            if existing != 1:
                raise ValueError(
                    f"Shape mismatch inside plate('{self.name}') at site {msg['name']} dim {dim}: "
                    f"plate size {size} vs distribution batch_shape {tuple(batch_shape)}"
                )
            shape = list(batch_shape)
        else:
            shape = [1] * (-dim - len(batch_shape)) + list(batch_shape)
        shape[dim] = size
        # Size-1 dims that no plate claims stay size 1 in the target shape; expand fills them.
        msg["fn"] = fn.expand(torch.Size(shape))

    def _postprocess_message(self, msg: Dict[str, Any]) -> None:
        if msg["type"] == "param":
            event_dim = msg["kwargs"].get("event_dim")
            if event_dim is None or self.dim is None or self.size < 0:
                return
            dim = self.dim - event_dim
            value = msg["value"]
            if value.dim() >= -dim and value.shape[dim] != 1:
                if value.shape[dim] != self.size:
                    # Pyro's words, whether or not the plate subsamples.
                    raise ValueError(
                        f"Inside pyro.plate({self.name}, {self.size}, dim={self.dim}) invalid "
                        f"shape of pyro.param({msg['name']}, ..., event_dim={event_dim}): "
                        f"{value.shape}"
                    )
                if self.size != self.subsample_size:
                    msg["value"] = value.index_select(dim, self._indices)
        elif msg["type"] == "subsample":
            event_dim = msg["kwargs"].get("event_dim", 0)
            value = msg["value"]
            if self.dim is None or self.size == self.subsample_size:
                return
            dim = self.dim - event_dim
            if value.dim() >= -dim and value.shape[dim] != 1:
                if value.shape[dim] != self.size:
                    raise ValueError(
                        f"pyro.subsample(..., event_dim={event_dim}) inside plate('{self.name}'): "
                        f"expected size {self.size} at dim {dim} of shape {tuple(value.shape)}"
                    )
                msg["value"] = value.index_select(dim, self._indices)


@contextlib.contextmanager
def plate_stack(prefix: str, sizes: Sequence[int], rightmost_dim: int = -1) -> Iterator[None]:
    """Enter one plate per size in ``sizes``, named ``prefix_0, prefix_1, ...``.

    The last size gets ``rightmost_dim``, the others the dims to its left, so that a batch of
    shape ``sizes`` is declared independent.
    """
    with contextlib.ExitStack() as stack:
        for i, size in enumerate(reversed(sizes)):
            stack.enter_context(PlateMessenger(f"{prefix}_{i}", size, dim=rightmost_dim - i))
        yield


class _BlockedPlate(Messenger):
    """Holds an enclosing plate's place on the stack while :func:`block_plate` hides it."""

    def __init__(self, plate: PlateMessenger) -> None:
        super().__init__()
        self.plate = plate


@contextlib.contextmanager
def block_plate(name: Optional[str] = None, dim: Optional[int] = None, *,
                strict: bool = True) -> Iterator[None]:
    """Hide one enclosing vectorized or sequential plate from the sites inside the block.

    Sites inside see the other plates but not this one: they are not broadcast along its dim,
    nor scaled by its subsampling, nor do their frames list it. Useful for a global or auxiliary
    variable drawn lazily inside a plate::

        with pyro.plate("data", 100):
            with block_plate("data"):
                scale = pyro.sample("scale", dist.LogNormal(0.0, 1.0))  # not batched

    Args:
        name: the name of the plate to hide; give this or ``dim``, not both.
        dim: the (negative) dim of the plate to hide.
        strict: raise when no enclosing plate matches (otherwise the block does nothing).

    Raises:
        ValueError: neither or both of ``name`` and ``dim`` are given, or (with ``strict``)
            no enclosing plate matches.
    """
    if (name is None) == (dim is None):
        raise ValueError("Exactly one of name,dim must be specified")
    # The plate's stack entry is swapped for a placeholder for the duration, so the sites
    # pay nothing for the blocking and the plate keeps its place (and its dim) for afterwards.
    blocked = []
    for i, frame in enumerate(_PYRO_STACK):
        if isinstance(frame, PlateMessenger) and (
            frame.name == name if name is not None else frame.dim == dim
        ):
            holder = _BlockedPlate(frame)
            _PYRO_STACK[i] = holder
            blocked.append(holder)
    if strict and not blocked:
        raise ValueError(
            "block_plate matched 0 messengers. Try either removing the block_plate or "
            "setting strict=False."
        )
    try:
        yield
    finally:
        for holder in blocked:
            for i, frame in enumerate(_PYRO_STACK):
                if frame is holder:
                    _PYRO_STACK[i] = holder.plate
                    break
