"""Primitive, param-store and ``pyro.util`` behaviour matched to pyro-ppl 1.9.2 (each fact
observed by running it)."""

import inspect
import math
import warnings

import pytest
import torch
from torch.distributions import Normal, constraints

import pyro
import pyro.poutine as poutine
import pyro.util
from pyro.poutine.util import check_guide_factor_sites


@pytest.fixture(autouse=True)
def _clear():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def recorded(fn):
    """Run ``fn``; return its value and the list of (category, text) of the warnings it gave."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        value = fn()
    return value, [(x.category, str(x.message)) for x in w]


# ----- pyro.param -----------------------------------------------------------------------------
@pytest.mark.parametrize("subsample_size", [None, 2])
def test_param_of_the_wrong_size_inside_a_plate_raises(subsample_size):
    with pytest.raises(ValueError) as info:
        with pyro.plate("p", 5, subsample_size=subsample_size):
            pyro.param("x", torch.zeros(4), event_dim=0)
    assert str(info.value) == (
        "Inside pyro.plate(p, 5, dim=-1) invalid shape of pyro.param(x, ..., event_dim=0): "
        "torch.Size([4])"
    )


def test_param_of_the_right_size_inside_a_plate_is_subsampled():
    with pyro.plate("p", 5, subsample=torch.tensor([0, 4])):
        value = pyro.param("x", torch.arange(5.0), event_dim=0)
    assert value.tolist() == [0.0, 4.0]
    with pyro.plate("q", 5):
        assert pyro.param("y", torch.zeros(3, 1), event_dim=0).shape == (3, 1)  # size-1 dim


@pytest.mark.parametrize(
    "init, constraint, expected",
    [
        (torch.tensor([1.0, 3.0]), constraints.simplex, [0.25, 0.75]),
        (torch.tensor(3.0), constraints.unit_interval, [1.0]),
        (torch.tensor([0.5, -0.5]), constraints.interval(0.0, 1.0), [0.5, 0.0]),
    ],
)
def test_init_outside_the_constraint_is_mapped_silently(init, constraint, expected):
    value, caught = recorded(lambda: pyro.param("p", init, constraint=constraint))
    assert caught == []
    assert value.detach().reshape(-1).tolist() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "init, constraint",
    [(torch.tensor(-1.0), constraints.positive), (torch.tensor(float("nan")), constraints.positive)],
)
def test_init_the_transform_cannot_map_raises_naming_the_param(init, constraint):
    with pytest.raises(ValueError, match="param 'bad'"):
        pyro.param("bad", init, constraint=constraint)
    assert "bad" not in pyro.get_param_store()


class Frozen(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.ones(2))
        self.b = torch.nn.Parameter(torch.ones(2), requires_grad=False)


def test_module_warns_about_params_it_does_not_register():
    _, caught = recorded(lambda: pyro.module("m", Frozen()))
    assert caught == [(UserWarning, "b was not registered in the param store because "
                                    "requires_grad=False. You can silence this warning by "
                                    "calling my_module.train(False)")]
    assert list(pyro.get_param_store().keys()) == ["m$$$a"]
    # A module in eval mode is not warned about.
    _, caught = recorded(lambda: pyro.module("e", Frozen().train(False)))
    assert caught == []


# ----- plate ----------------------------------------------------------------------------------
def test_plate_without_size_accepts_any_size_in_its_dim():
    with poutine.trace() as tr:
        with pyro.plate("p") as ind:
            x = pyro.sample("x", Normal(torch.zeros(7), 1.0))
            y = pyro.sample("y", Normal(0.0, 1.0))
        with pyro.plate("q", dim=-2):
            w = pyro.sample("w", Normal(torch.zeros(4, 1), 1.0))
    assert ind is None
    assert x.shape == (7,) and y.shape == () and w.shape == (4, 1)
    frame = tr.trace.nodes["x"]["cond_indep_stack"][0]
    assert (frame.name, frame.dim, frame.size, frame.full_size) == ("p", -1, -1, -1)
    tr.trace.compute_log_prob()
    assert tr.trace.nodes["x"]["log_prob"].shape == (7,)


def test_plate_returns_a_list_subsample_as_given():
    with poutine.trace() as tr:
        with pyro.plate("p", 10, subsample=[1, 3]) as ind:
            x = pyro.sample("x", Normal(0.0, 1.0))
            w = pyro.param("w", torch.arange(10.0), event_dim=0)
    assert ind == [1, 3] and type(ind) is list
    assert x.shape == (2,) and w.tolist() == [1.0, 3.0]
    assert tr.trace.nodes["x"]["scale"] == 5.0
    assert tr.trace.nodes["p"]["value"] == [1, 3]
    assert list(pyro.plate("s", 10, subsample=[1, 3])) == [1, 3]


def test_sized_less_plate_has_no_length():
    with pytest.raises(TypeError, match="no size"):
        len(pyro.plate("p"))
    with pytest.raises(ValueError, match="no size"):
        list(pyro.plate("p"))


# ----- sample(obs_mask=...) -------------------------------------------------------------------
@pytest.mark.parametrize(
    "mask_shape, fn, obs_shape, message",
    [
        ((2,), Normal(torch.zeros(3), 1.0), (3,),
         "Invalid obs_mask shape (2,); should be broadcastable to batch_shape = (3,)"),
        ((3, 2), torch.distributions.Independent(Normal(torch.zeros(3, 2), 1.0), 1), (3, 2),
         "Invalid obs_mask shape (3, 2); should be broadcastable to batch_shape = (3,)"),
    ],
)
def test_obs_mask_of_the_wrong_shape_raises(mask_shape, fn, obs_shape, message):
    mask = torch.ones(mask_shape, dtype=torch.bool)
    with pytest.raises(ValueError) as info:
        pyro.sample("x", fn, obs=torch.ones(obs_shape), obs_mask=mask)
    assert str(info.value).startswith(message)
    with pytest.raises(ValueError, match=r"^Invalid obs_mask shape"):
        with poutine.trace():
            pyro.sample("x", fn, obs=torch.ones(obs_shape), obs_mask=mask)


def test_obs_mask_that_broadcasts_is_accepted():
    obs = torch.tensor([1.0, 2.0, 3.0])
    with poutine.trace() as tr:
        value = pyro.sample("x", Normal(torch.zeros(3), 1.0), obs=obs,
                            obs_mask=torch.tensor([[True, False, True]] * 2))
    assert value.shape == (2, 3)
    assert value[:, 0].tolist() == [1.0, 1.0] and value[:, 2].tolist() == [3.0, 3.0]
    assert list(tr.trace.nodes) == ["x_observed", "x_unobserved", "x"]


# ----- pyro.factor ----------------------------------------------------------------------------
def test_factor_has_rsample_defaults_to_false_and_a_guide_must_give_it():
    def guide(has_rsample):
        def g():
            kwargs = {} if has_rsample is None else {"has_rsample": has_rsample}
            pyro.factor("f", torch.tensor(1.5), **kwargs)
        return g

    tr = poutine.trace(guide(None)).get_trace()
    assert tr.nodes["f"]["fn"].has_rsample is False
    assert tr.nodes["f"]["infer"] == {"is_auxiliary": True} and tr.nodes["f"]["is_observed"]
    with pytest.raises(ValueError) as info:
        check_guide_factor_sites(tr)
    assert str(info.value) == (
        'At guide site pyro.factor("f",...), missing specification of has_rsample. Please either '
        "set has_rsample=True if the factor statement arises from reparametrized sampling or "
        "has_rsample=False otherwise."
    )
    for given in (True, False):
        tr = poutine.trace(guide(given)).get_trace()
        assert tr.nodes["f"]["fn"].has_rsample is given
        check_guide_factor_sites(tr)  # no error


# ----- pyro.util ------------------------------------------------------------------------------
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "x, isnan, isinf",
    [(1.0, False, False), (NAN, True, False), (INF, False, True), (-INF, False, True),
     (3, False, False)],
)
def test_torch_isnan_isinf_on_numbers(x, isnan, isinf):
    assert pyro.util.torch_isnan(x) is isnan
    assert pyro.util.torch_isinf(x) is isinf


def test_torch_isnan_isinf_on_tensors_return_0d_bool_tensors():
    t = torch.tensor([1.0, NAN])
    assert pyro.util.torch_isnan(t).dim() == 0 and bool(pyro.util.torch_isnan(t))
    assert not bool(pyro.util.torch_isinf(t))
    assert bool(pyro.util.torch_isinf(torch.tensor([1.0, -INF])))
    assert not bool(pyro.util.torch_isnan(torch.tensor([1, 2])))


def test_warn_if_nan_and_warn_if_inf_signatures():
    nan_params = inspect.signature(pyro.util.warn_if_nan).parameters
    inf_params = inspect.signature(pyro.util.warn_if_inf).parameters
    assert list(nan_params) == ["value", "msg", "filename", "lineno"]
    assert list(inf_params) == ["value", "msg", "allow_posinf", "allow_neginf", "filename", "lineno"]
    assert nan_params["filename"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inf_params["lineno"].kind is inspect.Parameter.KEYWORD_ONLY


def test_warn_if_nan_texts():
    assert recorded(lambda: pyro.util.warn_if_nan(2.0, "fine")) == (2.0, [])
    value, caught = recorded(lambda: pyro.util.warn_if_nan(NAN))
    assert math.isnan(value) and caught == [(UserWarning, "Encountered NaN.")]
    t = torch.tensor([1.0, NAN])
    value, caught = recorded(lambda: pyro.util.warn_if_nan(t, "foo"))
    assert value is t and caught == [(UserWarning, "Encountered NaN: foo")]


def test_warn_if_nan_points_at_the_caller_or_the_given_place():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pyro.util.warn_if_nan(NAN, "here")
        pyro.util.warn_if_nan(NAN, "there", filename="model.py", lineno=42)
    assert w[0].filename == __file__
    assert (w[1].filename, w[1].lineno) == ("model.py", 42)


def test_warn_if_nan_checks_the_gradient_in_the_backward_pass():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = pyro.util.warn_if_nan(x * 1.0, "yy")
    _, caught = recorded(lambda: (y * torch.tensor([NAN, 1.0])).sum().backward())
    assert caught == [(UserWarning, "Encountered NaN: backward yy")]
    y = pyro.util.warn_if_nan(x * 1.0)
    _, caught = recorded(lambda: (y * 2.0).sum().backward())
    assert caught == []


def test_warn_if_inf_texts_and_allowances():
    t = torch.tensor([1.0, INF, -INF])
    _, caught = recorded(lambda: pyro.util.warn_if_inf(t, "foo"))
    assert caught == [(UserWarning, "Encountered +inf: foo"), (UserWarning, "Encountered -inf: foo")]
    _, caught = recorded(lambda: pyro.util.warn_if_inf(t, "foo", allow_posinf=True))
    assert caught == [(UserWarning, "Encountered -inf: foo")]
    _, caught = recorded(lambda: pyro.util.warn_if_inf(t, "foo", allow_neginf=True))
    assert caught == [(UserWarning, "Encountered +inf: foo")]
    _, caught = recorded(lambda: pyro.util.warn_if_inf(INF))
    assert caught == [(UserWarning, "Encountered +inf.")]
    assert recorded(lambda: pyro.util.warn_if_inf(3, "x")) == (3, [])


def test_warn_if_inf_checks_the_gradient_in_the_backward_pass():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = pyro.util.warn_if_inf(x * 1.0, "yy")
    _, caught = recorded(lambda: (y * torch.tensor([-INF, 1.0])).sum().backward())
    assert caught == [(UserWarning, "Encountered -inf: backward yy")]
    x.grad = None
    y = pyro.util.warn_if_inf(x * 1.0, "yy", allow_neginf=True)
    _, caught = recorded(lambda: (y * torch.tensor([-INF, 1.0])).sum().backward())
    assert caught == []


def test_nan_and_inf_checks_pass_a_missing_gradient_through():
    import warnings

    from pyro.util import warn_if_inf, warn_if_nan

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_nan(None) is None and warn_if_inf(None) is None
        # a hook registered by warn_if_nan sees None in a double-backward pass through it
        x = torch.tensor(2.0, requires_grad=True)
        y = warn_if_nan(x ** 3, "y")
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (h,) = torch.autograd.grad(g, x)
        assert h.item() == 12.0
