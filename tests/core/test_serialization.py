"""Saving and loading the param store: round trips, atomic writes, and files that must not load."""

import io
import os
import pickle
import zipfile

import pytest
import torch
from torch.distributions import constraints

import pyro
from pyro.params import StateFileError
from pyro.params import serialization


def fill_store():
    pyro.param("loc", torch.tensor([0.5, -1.0]))
    pyro.param("scale", torch.tensor([2.0, 3.0]), constraint=constraints.positive)
    pyro.param("probs", torch.tensor([0.2, 0.3, 0.5]), constraint=constraints.simplex)
    pyro.param("width", torch.tensor(1.5), constraint=constraints.interval(1.0, 4.0), tags="extra")
    pyro.param("chol", torch.tensor([[1.0, 0.0], [0.3, 2.0]]), constraint=constraints.lower_cholesky)


def snapshot():
    store = pyro.get_param_store()
    return {name: (value.detach().clone(), store._constraints[name]) for name, value in store.items()}


def test_save_load_round_trip(tmp_path):
    fill_store()
    before = snapshot()
    path = tmp_path / "params.pt"
    pyro.get_param_store().save(path)
    pyro.clear_param_store()
    pyro.get_param_store().load(path)
    after = snapshot()
    assert list(after) == list(before)
    for name, (value, constraint) in before.items():
        assert torch.allclose(after[name][0], value, atol=1e-6), name
        assert type(after[name][1]) is type(constraint)
        assert vars(after[name][1]) == pytest.approx(vars(constraint)) if name != "width" else True
    width = pyro.get_param_store()._constraints["width"]
    assert (width.lower_bound, width.upper_bound) == (1.0, 4.0)
    assert pyro.get_param_store()._constraints["scale"] is constraints.positive
    assert pyro.get_param_store().get_param_tags("width") == {"default", "extra"}
    leaf = pyro.param("scale").unconstrained()
    assert leaf.is_leaf and leaf.requires_grad
    assert pyro.get_param_store().param_name(leaf) == "scale"


def test_load_adds_to_existing_params(tmp_path):
    pyro.param("a", torch.tensor(1.0))
    pyro.get_param_store().save(tmp_path / "a.pt")
    pyro.clear_param_store()
    pyro.param("b", torch.tensor(2.0))
    pyro.param("a", torch.tensor(9.0))
    pyro.get_param_store().load(tmp_path / "a.pt")
    assert pyro.param("a").item() == 1.0 and pyro.param("b").item() == 2.0


def test_map_location(tmp_path):
    pyro.param("x", torch.tensor([1.0, 2.0], dtype=torch.float64), constraint=constraints.positive)
    path = tmp_path / "p.pt"
    pyro.get_param_store().save(path)
    pyro.clear_param_store()
    seen = []

    def remap(storage, location):
        seen.append(location)
        return storage

    pyro.get_param_store().load(path, map_location=remap)
    assert seen and all(loc == "cpu" for loc in seen)
    assert pyro.param("x").tolist() == pytest.approx([1.0, 2.0])
    assert pyro.param("x").dtype == torch.float64
    pyro.clear_param_store()
    pyro.get_param_store().load(path, map_location=torch.device("cpu"))
    assert pyro.param("x").device.type == "cpu"


@pytest.mark.cuda
def test_map_location_to_cuda(tmp_path):
    pyro.param("x", torch.tensor([1.0, 2.0]), constraint=constraints.positive)
    pyro.get_param_store().save(tmp_path / "p.pt")
    pyro.clear_param_store()
    pyro.get_param_store().load(tmp_path / "p.pt", map_location="cuda")
    assert pyro.param("x").device.type == "cuda"


def test_crash_mid_save_keeps_old_file(tmp_path, monkeypatch):
    pyro.param("v", torch.tensor(1.0))
    path = tmp_path / "params.pt"
    pyro.get_param_store().save(path)
    old_bytes = path.read_bytes()
    pyro.get_param_store()["v"] = torch.tensor(2.0)
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        f.write(buffer.getvalue()[:40])  # a partial write ...
        raise OSError("disk full")  # ... then the crash

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        pyro.get_param_store().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["params.pt"]  # no temporary file left behind
    pyro.clear_param_store()
    pyro.get_param_store().load(path)
    assert pyro.param("v").item() == 1.0


def test_save_creates_file_atomically_in_place(tmp_path):
    pyro.param("v", torch.tensor(3.0))
    path = tmp_path / "fresh.pt"
    pyro.get_param_store().save(str(path))
    assert os.listdir(tmp_path) == ["fresh.pt"]


def assert_load_rejected(path, match=None):
    fill_store()
    before = snapshot()
    with pytest.raises(StateFileError, match=match):
        pyro.get_param_store().load(path)
    after = snapshot()
    assert list(after) == list(before)
    for name in before:
        assert torch.equal(after[name][0], before[name][0])


def test_truncated_file_is_rejected(tmp_path):
    pyro.param("v", torch.ones(100))
    good = tmp_path / "good.pt"
    pyro.get_param_store().save(good)
    pyro.clear_param_store()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    assert_load_rejected(bad, match="truncated, corrupt")


def test_corrupt_file_is_rejected(tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"\x00\x01 this is not a torch file" * 10)
    assert_load_rejected(bad)


def test_foreign_file_is_rejected(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    assert_load_rejected(foreign, match="not a pyro-param-store file")
    plain = tmp_path / "tensor.pt"
    torch.save(torch.ones(3), plain)
    assert_load_rejected(plain, match="not a pyro-param-store file")


def test_malformed_sections_are_rejected(tmp_path):
    path = tmp_path / "bad_params.pt"
    torch.save({"format": "pyro-param-store", "version": 1, "params": {"a": [1, 2]},
                "constraints": {}, "tags": {}}, path)
    assert_load_rejected(path, match="params")
    path2 = tmp_path / "bad_constraint.pt"
    torch.save({"format": "pyro-param-store", "version": 1, "params": {"a": torch.ones(1)},
                "constraints": {"a": {"name": "no_such_constraint"}}, "tags": {}}, path2)
    assert_load_rejected(path2, match="no_such_constraint")
    path3 = tmp_path / "orphan_constraint.pt"
    torch.save({"format": "pyro-param-store", "version": 1, "params": {},
                "constraints": {"ghost": {"name": "positive"}}, "tags": {}}, path3)
    assert_load_rejected(path3, match="malformed")


class _Exploit:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_file_crafted_to_run_code_is_rejected_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    payload = {"format": "pyro-param-store", "version": 1, "params": {"a": torch.ones(1)},
               "constraints": {}, "tags": {}, "x": _Exploit(str(marker))}
    torch.save(payload, evil)  # torch's own format with a malicious object inside
    assert not marker.exists()
    assert_load_rejected(evil, match="truncated, corrupt, or contains objects")
    assert not marker.exists()
    raw = tmp_path / "evil.pkl"  # a bare pickle, not torch's zip format
    raw.write_bytes(pickle.dumps(_Exploit(str(marker))))
    assert_load_rejected(raw)
    assert not marker.exists()
    # sanity check: the payload really would run if unpickled unsafely
    pickle.loads(raw.read_bytes()).close()
    assert marker.exists()


def test_zip_with_tampered_pickle_is_rejected(tmp_path):
    pyro.param("v", torch.ones(2))
    good = tmp_path / "good.pt"
    pyro.get_param_store().save(good)
    pyro.clear_param_store()
    tampered = tmp_path / "tampered.pt"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = b"garbage" + data[7:]
            zout.writestr(item, data)
    assert_load_rejected(tampered)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        pyro.get_param_store().load(tmp_path / "absent.pt")


def test_unregistered_constraint_cannot_be_saved(tmp_path):
    class Custom(constraints.Constraint):
        def check(self, value):
            return value == value

    pyro.param("c", torch.tensor(1.0))
    pyro.get_param_store()._constraints["c"] = Custom()  # torch has no transform for it
    with pytest.raises(ValueError, match="not registered"):
        pyro.get_param_store().save(tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()


def test_constraint_spec_round_trip():
    for c in (constraints.positive, constraints.interval(0.0, 2.0), constraints.greater_than(-1.0),
              constraints.independent(constraints.real, 1), constraints.simplex):
        spec = serialization.constraint_to_spec(c)
        back = serialization.constraint_from_spec(spec)
        assert type(back) is type(c)
        x = torch.tensor([0.5, 1.5])
        assert torch.equal(back.check(x), c.check(x))
