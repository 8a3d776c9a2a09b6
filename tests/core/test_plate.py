"""``pyro.plate``: vectorized and sequential use, dims, subsampling and its scaling."""

import math

import pytest
import torch
from torch.distributions import Normal

import pyro
import pyro.poutine as poutine
from pyro.poutine.runtime import _DIM_ALLOCATOR, _PYRO_STACK


def normal_lp(x, loc=0.0, scale=1.0):
    x = torch.as_tensor(x, dtype=torch.float64)
    return (-0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi))


def test_vectorized_plate_expands_and_records_frame():
    def model():
        with pyro.plate("data", 5) as ind:
            x = pyro.sample("x", Normal(0.0, 1.0))
        return ind, x

    tr = poutine.trace(model).get_trace()
    ind, x = tr.nodes["_RETURN"]["value"]
    assert ind.tolist() == [0, 1, 2, 3, 4]
    assert x.shape == (5,)
    assert tr.nodes["x"]["fn"].batch_shape == (5,)
    (frame,) = tr.nodes["x"]["cond_indep_stack"]
    assert (frame.name, frame.dim, frame.size, frame.counter, frame.full_size) == ("data", -1, 5, 0, 5)
    assert frame.vectorized
    assert tr.nodes["data"]["type"] == "sample" and tr.nodes["data"]["value"].tolist() == ind.tolist()
    assert tr.stochastic_nodes == ["data", "x"]  # Pyro's view includes the subsample site


def test_nested_plates_allocate_dims_right_to_left():
    def model():
        with pyro.plate("outer", 3):
            with pyro.plate("inner", 4):
                return pyro.sample("x", Normal(0.0, 1.0))

    tr = poutine.trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (4, 3)
    frames = tr.nodes["x"]["cond_indep_stack"]
    assert [(f.name, f.dim) for f in frames] == [("outer", -1), ("inner", -2)]
    assert _DIM_ALLOCATOR.used_dims() == {}


def test_explicit_dims_and_free_dim_reuse():
    def model():
        with pyro.plate("a", 2, dim=-2):
            with pyro.plate("b", 3):  # the rightmost free dim is -1
                x = pyro.sample("x", Normal(0.0, 1.0))
        with pyro.plate("c", 6):  # -1 is free again
            y = pyro.sample("y", Normal(0.0, 1.0))
        return x, y

    x, y = model()
    assert x.shape == (2, 3) and y.shape == (6,)
    with pyro.plate("p", 2, dim=-3):
        assert _DIM_ALLOCATOR.used_dims() == {-3: "p"}
        z = pyro.sample("z", Normal(0.0, 1.0))
    assert z.shape == (2, 1, 1)


def test_plate_dim_collision_raises_and_cleans_up():
    with pytest.raises(ValueError, match="collide at dim=-1"):
        with pyro.plate("a", 2, dim=-1):
            with pyro.plate("b", 3, dim=-1):
                pass
    assert _DIM_ALLOCATOR.used_dims() == {} and _PYRO_STACK == []


def test_duplicate_plate_name_raises():
    with pytest.raises(ValueError, match="'a'"):
        with pyro.plate("a", 2):
            with pyro.plate("a", 3):
                pass
    assert _DIM_ALLOCATOR.used_dims() == {}


def test_nonnegative_dim_raises():
    with pytest.raises(ValueError, match="dim must be negative"):
        pyro.plate("a", 2, dim=0)


def test_batch_shape_mismatch_names_site_and_shapes():
    with pytest.raises(ValueError, match=r"site x dim -1.*plate size 3.*\(4,\)"):
        with pyro.plate("data", 3):
            pyro.sample("x", Normal(torch.zeros(4), 1.0))


def test_observed_data_in_plate_log_prob():
    data = torch.tensor([0.5, -1.0, 2.0])

    def model():
        with pyro.plate("data", 3):
            pyro.sample("obs", Normal(0.0, 1.0), obs=data)

    tr = poutine.trace(model).get_trace()
    assert tr.log_prob_sum().item() == pytest.approx(normal_lp(data).sum().item(), abs=1e-5)


def test_sequential_plate_iterates_with_counters():
    def model():
        values = []
        for i in pyro.plate("seq", 3):
            values.append(pyro.sample(f"x_{i}", Normal(float(i), 1e-3)))
        return values

    tr = poutine.trace(model).get_trace()
    for i in range(3):
        (frame,) = tr.nodes[f"x_{i}"]["cond_indep_stack"]
        assert (frame.name, frame.dim, frame.counter, frame.vectorized) == ("seq", None, i + 1, False)
        assert tr.nodes[f"x_{i}"]["value"].shape == ()
    assert _DIM_ALLOCATOR.used_dims() == {}
    assert len(pyro.plate("seq", 7)) == 7


def test_sequential_plate_of_vectorized_plate():
    def model():
        for i in pyro.plate("groups", 2):
            with pyro.plate(f"members_{i}", 4):
                pyro.sample(f"x_{i}", Normal(0.0, 1.0))

    tr = poutine.trace(model).get_trace()
    frames = tr.nodes["x_1"]["cond_indep_stack"]
    assert [(f.name, f.dim, f.counter) for f in frames] == [("groups", None, 2), ("members_1", -1, 0)]
    assert tr.nodes["x_1"]["value"].shape == (4,)


def test_irange_iarange_observe_aliases_warn_once():
    import warnings

    import pyro.util

    for key in ("iarange", "irange", "observe"):
        pyro.util._WARNED.discard(key)
    with pytest.warns(DeprecationWarning, match="use pyro.plate"):
        ia = pyro.iarange("a", 3)
    with ia:
        assert pyro.sample("x", Normal(0.0, 1.0)).shape == (3,)
    with pytest.warns(DeprecationWarning, match="use pyro.plate"):
        ir = pyro.irange("b", 2)
    assert list(ir) == [0, 1]
    with pytest.warns(FutureWarning, match="obs="):
        with poutine.trace() as tr:
            pyro.observe("o", Normal(0.0, 1.0), torch.tensor(1.0))
    assert tr.trace.nodes["o"]["is_observed"] and tr.trace.nodes["o"]["value"].item() == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyro.iarange("a", 3)
        pyro.irange("b", 2)
        with poutine.trace():
            pyro.observe("o", Normal(0.0, 1.0), torch.tensor(1.0))


# ----- subsampling -----------------------------------------------------------------------


def test_subsample_size_draws_distinct_indices_and_scales():
    data = torch.arange(100.0) / 50

    def model():
        with pyro.plate("data", 100, subsample_size=10) as ind:
            pyro.sample("obs", Normal(0.0, 1.0), obs=data[ind])
        return ind

    tr = poutine.trace(model).get_trace()
    ind = tr.nodes["_RETURN"]["value"]
    assert ind.shape == (10,) and len(set(ind.tolist())) == 10
    assert 0 <= ind.min().item() and ind.max().item() < 100
    assert tr.nodes["obs"]["scale"] == 10.0
    (frame,) = tr.nodes["obs"]["cond_indep_stack"]
    assert frame.size == 10 and frame.full_size == 100
    expected = 10.0 * normal_lp(data[ind]).sum().item()
    assert tr.log_prob_sum().item() == pytest.approx(expected, rel=1e-6)
    tr.compute_log_prob()
    assert torch.allclose(tr.nodes["obs"]["unscaled_log_prob"].double(), normal_lp(data[ind]), atol=1e-6)
    assert torch.allclose(tr.nodes["obs"]["log_prob"].double(), 10 * normal_lp(data[ind]), atol=1e-5)


def test_non_integer_scale_is_exact():
    with poutine.trace() as tr:
        with pyro.plate("data", 7, subsample_size=3):
            pyro.sample("x", Normal(0.0, 1.0), obs=torch.zeros(3))
    assert tr.trace.nodes["x"]["scale"] == 7 / 3
    assert tr.trace.log_prob_sum().item() == pytest.approx(7 / 3 * 3 * normal_lp(0.0).item(), rel=1e-6)


def test_explicit_subsample_and_size_from_subsample():
    with poutine.trace() as tr:
        with pyro.plate("data", 50, subsample=torch.tensor([3, 7, 11])) as ind:
            pyro.sample("x", Normal(0.0, 1.0), obs=torch.zeros(3))
    assert ind.tolist() == [3, 7, 11]
    assert tr.trace.nodes["x"]["scale"] == 50 / 3
    with pyro.plate("implicit", subsample=[4, 5]) as ind2:
        assert pyro.sample("y", Normal(0.0, 1.0)).shape == (2,)
    assert ind2 == [4, 5]  # a list subsample is yielded as given, as in Pyro


def test_nested_subsampled_plates_multiply_scales():
    with poutine.trace() as tr:
        with pyro.plate("a", 10, subsample_size=5), pyro.plate("b", 6, subsample_size=2):
            pyro.sample("x", Normal(0.0, 1.0))
    assert tr.trace.nodes["x"]["scale"] == pytest.approx(2.0 * 3.0)
    assert tr.trace.nodes["x"]["value"].shape == (2, 5)


def test_subsample_indices_are_replayed_from_guide_to_model():
    data = torch.randn(20)

    def guide():
        with pyro.plate("data", 20, subsample_size=4):
            pyro.sample("z", Normal(0.0, 1.0))

    def model():
        with pyro.plate("data", 20, subsample_size=4) as ind:
            pyro.sample("z", Normal(0.0, 1.0))
            pyro.sample("obs", Normal(0.0, 1.0), obs=data[ind])
        return ind

    guide_tr = poutine.trace(guide).get_trace()
    model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace()
    assert torch.equal(model_tr.nodes["_RETURN"]["value"], guide_tr.nodes["data"]["value"])
    assert torch.equal(model_tr.nodes["z"]["value"], guide_tr.nodes["z"]["value"])


def test_inconsistent_subsample_size_raises():
    guide_tr = poutine.trace(lambda: pyro.plate("data", 20, subsample_size=4)).get_trace()
    with pytest.raises(ValueError, match="subsample_size=5"):
        poutine.replay(lambda: pyro.plate("data", 20, subsample_size=5), trace=guide_tr)()


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 5, "subsample_size": 6}, {"subsample_size": 3}])
def test_bad_sizes_raise(kwargs):
    with pytest.raises(ValueError):
        pyro.plate("bad", **kwargs)


def test_param_with_event_dim_is_subsampled():
    def model():
        with pyro.plate("data", 6, subsample=torch.tensor([1, 4])):
            loc = pyro.param("loc", torch.arange(12.0).reshape(6, 2), event_dim=1)
            scale = pyro.param("scale", torch.ones(6))  # no event_dim: left whole
        return loc, scale

    loc, scale = model()
    assert loc.tolist() == [[2.0, 3.0], [8.0, 9.0]]
    assert scale.shape == (6,)
    loc.sum().backward()
    grad = pyro.get_param_store()["loc"].unconstrained().grad
    assert grad.tolist() == [[0, 0], [1, 1], [0, 0], [0, 0], [1, 1], [0, 0]]


def test_param_with_wrong_plate_size_raises():
    with pytest.raises(ValueError, match=r"invalid shape of pyro.param\(loc"):
        with pyro.plate("data", 6, subsample_size=2):
            pyro.param("loc", torch.zeros(5), event_dim=0)


def test_pyro_subsample_indexes_data():
    data = torch.arange(30.0).reshape(10, 3)
    assert pyro.subsample(data, event_dim=1) is data
    with pyro.plate("rows", 10, subsample=torch.tensor([0, 9])):
        sub = pyro.subsample(data, event_dim=1)
    assert sub.tolist() == [[0.0, 1.0, 2.0], [27.0, 28.0, 29.0]]
    with pyro.plate("rows", 10, subsample=torch.tensor([2]), dim=-2):
        with pyro.plate("cols", 3, subsample=torch.tensor([0, 2])):
            sub = pyro.subsample(data, event_dim=0)
    assert sub.tolist() == [[6.0, 8.0]]
    with pytest.raises(ValueError, match="expected size 10"):
        with pyro.plate("rows", 10, subsample=torch.tensor([2])):
            pyro.subsample(data, event_dim=0)
    with pytest.raises(ValueError):
        pyro.subsample(data, event_dim=-1)


def test_plate_stack_declares_a_batch():
    with poutine.trace() as tr:
        with pyro.plate_stack("batch", (2, 3, 4)):
            x = pyro.sample("x", Normal(0.0, 1.0))
    assert x.shape == (2, 3, 4)
    dims = {f.name: (f.dim, f.size) for f in tr.trace.nodes["x"]["cond_indep_stack"]}
    assert dims == {"batch_0": (-1, 4), "batch_1": (-2, 3), "batch_2": (-3, 2)}
    with pyro.plate_stack("b", (5,), rightmost_dim=-2):
        assert pyro.sample("y", Normal(0.0, 1.0)).shape == (5, 1)


def test_plate_device_argument_and_default():
    with pyro.plate("data", 4, subsample_size=2, device="cpu") as ind:
        pass
    assert ind.device.type == "cpu" and ind.dtype == torch.int64
    with pyro.plate("data", 4, device=torch.device("cpu")) as ind:
        pass
    assert ind.tolist() == [0, 1, 2, 3]


@pytest.mark.cuda
def test_plate_indices_on_cuda():
    with pyro.plate("data", 4, subsample_size=2, device="cuda") as ind:
        x = pyro.sample("x", Normal(torch.zeros(1, device="cuda"), 1.0))
    assert ind.device.type == "cuda" and x.device.type == "cuda" and x.shape == (2,)


def test_plate_without_size_has_no_indices():
    plate = pyro.plate("unsized")
    with pytest.raises(ValueError, match="no size"):
        plate.indices
    with plate:
        assert pyro.sample("x", Normal(torch.zeros(2), 1.0)).shape == (2,)
