"""PyroOptim: exact steps, shared optimizers equal to one optimizer per parameter, settings, clipping."""

import pytest
import torch

import pyro
import pyro.optim
from pyro.optim import PyroOptim
from pyro.optim.clipped_adam import ClippedAdam as TorchClippedAdam
from pyro.optim.adagrad_rmsprop import AdagradRMSProp as TorchAdagradRMSProp
from pyro.optim.pytorch_optimizers import TORCH_OPTIMIZERS
from pyro.optim.dct_adam import DCTAdam as TorchDCTAdam
from pyro.optim.optim import DECAYING_OPTIMIZERS, FUSED_BY_DEFAULT

SHAPES = {"w1": (2, 3), "w2": (3, 3), "w3": (4, 2)}
# step -> names present in that step: w2 appears late, w3 skips a step
SCHEDULE = [("w1", "w3"), ("w1", "w3"), ("w1", "w2", "w3"), ("w1", "w2"), ("w3", "w1", "w2"), ("w2", "w1", "w3")]


def init(name):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    return torch.randn(SHAPES[name], generator=g)


def loss_of(p):
    return ((p - 0.3) ** 2).sum() + 0.1 * p.sin().sum() + 0.05 * (p ** 3).sum()


def train_pyro(optim, schedule=SCHEDULE):
    for names in schedule:
        values = [pyro.param(n, init(n)) for n in names]
        sum(loss_of(v) for v in values).backward()
        optim([v.unconstrained() for v in values])
        for v in values:  # the optimizer leaves gradients in place; SVI clears them like this
            v.unconstrained().grad = None
    return {n: pyro.param(n).detach().clone() for n in SHAPES}


def train_by_hand(make_optimizer, schedule=SCHEDULE):
    """One torch optimizer per parameter, each created when its parameter first appears."""
    params, optims = {}, {}
    for names in schedule:
        for n in names:
            if n not in params:
                params[n] = init(n).requires_grad_()
                optims[n] = make_optimizer([params[n]])
        sum(loss_of(params[n]) for n in names).backward()
        for n in names:
            optims[n].step()
            params[n].grad = None
    return {n: p.detach() for n, p in params.items()}


def test_sgd_steps_are_exact():
    optim = pyro.optim.SGD({"lr": 0.25})
    for _ in range(3):
        a = pyro.param("a", torch.tensor([1.0, -2.0, 4.0]))
        loss = 0.5 * ((a - torch.tensor([3.0, 0.0, -4.0])) ** 2).sum()  # gradient a - target
        loss.backward()
        optim([a.unconstrained()])
        a.unconstrained().grad = None
    # a_{k+1} = a_k - 0.25 (a_k - t) = 0.75 a_k + 0.25 t, three times; exact in binary
    expected = torch.tensor([1.0, -2.0, 4.0])
    for _ in range(3):
        expected = 0.75 * expected + 0.25 * torch.tensor([3.0, 0.0, -4.0])
    assert torch.equal(pyro.param("a").detach(), expected)
    assert torch.equal(expected, torch.tensor([2.15625, -0.84375, -0.625]))


def test_gradients_are_left_in_place_after_the_step():
    # as in Pyro: the caller (SVI) clears gradients, the optimizer does not
    optim = pyro.optim.SGD({"lr": 0.1})
    a = pyro.param("a", torch.tensor(1.0))
    (a * 3).backward()
    optim([a.unconstrained()])
    assert torch.equal(a.unconstrained().grad, torch.tensor(3.0))
    # 1 - 0.1 * 3 rounds (once with an FMA, twice without): compare within a few float32 ulp
    torch.testing.assert_close(pyro.param("a").detach(), torch.tensor(0.7), rtol=1e-6, atol=0.0)


def test_constrained_params_step_in_unconstrained_space():
    optim = pyro.optim.SGD({"lr": 0.5})
    s = pyro.param("s", torch.tensor(2.0), constraint=torch.distributions.constraints.positive)
    s.backward()  # d s / d log s = s = 2
    optim([s.unconstrained()])
    # the gradient is exp(log 2), which need not be exactly 2 (exp's rounding varies by CPU)
    torch.testing.assert_close(pyro.param("s").unconstrained().detach(), torch.tensor(2.0).log() - 1.0,
                               rtol=1e-6, atol=1e-7)


OPTIMIZERS = {name: cls for name, cls in TORCH_OPTIMIZERS.items() if name not in ("LBFGS", "SparseAdam")}
OPTIMIZERS["ClippedAdam"] = TorchClippedAdam
OPTIMIZERS["AdagradRMSProp"] = TorchAdagradRMSProp
OPTIMIZERS["DCTAdam"] = TorchDCTAdam
SETTINGS = {"AdagradRMSProp": {"eta": 0.05, "t": 0.2}, "ClippedAdam": {"lr": 0.05, "clip_norm": 0.5, "lrd": 0.9},
            "DCTAdam": {"lr": 0.05, "clip_norm": 0.5, "lrd": 0.9}}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_shared_optimizer_equals_one_optimizer_per_param(name):
    cls = OPTIMIZERS[name]
    settings = SETTINGS.get(name, {"lr": 0.05})
    optim = getattr(pyro.optim, name)(settings)
    assert isinstance(optim, PyroOptim)
    got = train_pyro(optim)
    # Adam and AdamW run torch's fused kernel by default: compare with the same implementation.
    fused = {"fused": True} if cls in FUSED_BY_DEFAULT else {}
    expected = train_by_hand(lambda ps: cls(ps, **settings, **fused))
    for n in SHAPES:
        assert not torch.equal(got[n], init(n)), f"{name} did not move {n}"
        assert torch.equal(got[n], expected[n]), f"{name}: {n} differs from a per-param optimizer"
    objs = optim.optim_objs
    assert len(objs) == 3
    if cls in DECAYING_OPTIMIZERS and settings.get("lrd", 1.0) != 1.0:
        # each step decays the rate in param_groups: w2 (late) and w3 (skips a step) need their own
        assert len({id(o) for o in objs.values()}) == 3
        return
    # and all three parameters share a single torch optimizer
    assert len({id(o) for o in objs.values()}) == 1
    (torch_optim,) = {id(o): o for o in objs.values()}.values()
    assert isinstance(torch_optim, cls) and len(torch_optim.param_groups) == 1


def test_every_torch_optimizer_is_wrapped():
    for name, cls in TORCH_OPTIMIZERS.items():
        wrapper = getattr(pyro.optim, name)
        assert wrapper.__name__ == name and wrapper.pt_optim_constructor is cls
    for name in ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam",
                 "RAdam", "Rprop", "SparseAdam", "LBFGS"):
        assert name in TORCH_OPTIMIZERS


def test_sparse_adam_steps_sparse_gradients():
    optim = pyro.optim.SparseAdam({"lr": 0.1})
    table = pyro.param("table", torch.zeros(4, 2))
    leaf = table.unconstrained()
    leaf.grad = torch.sparse_coo_tensor(torch.tensor([[1, 3]]), torch.tensor([[1.0, -2.0], [0.5, 0.0]]), (4, 2),
                                        check_invariants=True)
    reference = torch.zeros(4, 2, requires_grad=True)
    reference.grad = leaf.grad.clone()
    optim([leaf])
    torch.optim.SparseAdam([reference], lr=0.1).step()
    assert torch.equal(pyro.param("table").detach(), reference.detach())
    # Adam's first step moves each touched nonzero coordinate by lr against the gradient's sign
    expected = torch.tensor([[0.0, 0.0], [-0.1, 0.1], [0.0, 0.0], [-0.1, 0.0]])
    assert torch.allclose(reference.detach(), expected, atol=1e-6)


def test_lbfgs_with_closure_optimizes_params_jointly():
    target = torch.tensor([1.0, -1.0, 2.0])

    def pyro_closure():
        a, b = pyro.param("a"), pyro.param("b")
        for p in (a, b):
            p.unconstrained().grad = None
        loss = ((a - target) ** 2).sum() + (a.sum() * b - 3.0) ** 2
        loss.backward()
        return loss

    optim = pyro.optim.LBFGS({"lr": 0.5, "max_iter": 5})
    a, b = pyro.param("a", torch.zeros(3)), pyro.param("b", torch.tensor(1.0))
    for _ in range(4):
        loss = optim([a.unconstrained(), b.unconstrained()], closure=pyro_closure)
    assert isinstance(loss, torch.Tensor)

    ra, rb = torch.zeros(3, requires_grad=True), torch.tensor(1.0, requires_grad=True)
    ref = torch.optim.LBFGS([ra, rb], lr=0.5, max_iter=5)

    def closure():
        ref.zero_grad()
        loss = ((ra - target) ** 2).sum() + (ra.sum() * rb - 3.0) ** 2
        loss.backward()
        return loss

    for _ in range(4):
        ref.step(closure)
    assert torch.equal(pyro.param("a").detach(), ra.detach())
    assert torch.equal(pyro.param("b").detach(), rb.detach())


def test_lbfgs_param_appearing_after_a_step_gets_its_own_optimizer():
    optim = pyro.optim.LBFGS({"lr": 0.1, "max_iter": 2})
    a = pyro.param("a", torch.tensor(1.0))

    def closure():
        loss = sum((pyro.param(n) ** 2).sum() for n in pyro.get_param_store().keys())
        for n in pyro.get_param_store().keys():
            pyro.param(n).unconstrained().grad = None
        loss.backward()
        return loss

    optim([a.unconstrained()], closure)
    b = pyro.param("b", torch.tensor(2.0))
    optim([a.unconstrained(), b.unconstrained()], closure)
    objs = optim.optim_objs
    assert objs[a.unconstrained()] is not objs[b.unconstrained()]


def test_params_outside_the_step_are_not_stepped():
    optim = pyro.optim.Adam({"lr": 0.1})
    a, b = pyro.param("a", torch.tensor(1.0)), pyro.param("b", torch.tensor(1.0))
    (a + b).backward()
    optim([a.unconstrained(), b.unconstrained()])
    # a stale gradient on b must not move b when only a is stepped
    (a * 2).backward()
    b.unconstrained().grad = torch.tensor(5.0)
    before = pyro.param("b").detach().clone()
    optim([a.unconstrained()])
    assert torch.equal(pyro.param("b").detach(), before)
    assert torch.equal(b.unconstrained().grad, torch.tensor(5.0))


def test_per_param_optim_args_with_module_and_param_names():
    calls = []

    def per_param(module_name, param_name):
        calls.append((module_name, param_name))
        return {"lr": 0.5} if param_name == "bias" else {"lr": 0.25}

    optim = pyro.optim.SGD(per_param)
    names = ["net$$$weight", "net$$$bias", "other$$$bias", "plain"]
    values = [pyro.param(n, torch.tensor(1.0)) for n in names]
    sum(values).backward()  # every gradient is 1
    optim([v.unconstrained() for v in values])
    assert calls == [("net", "weight"), ("net", "bias"), ("other", "bias"), ("plain", "plain")]
    assert [pyro.param(n).item() for n in names] == [0.75, 0.5, 0.5, 0.75]
    # two settings, two shared optimizers
    assert len({id(o) for o in optim.optim_objs.values()}) == 2


def test_per_param_optim_args_with_one_argument_get_dotted_names():
    seen = []

    def per_param(name):
        seen.append(name)
        return {"lr": 1.0}

    optim = pyro.optim.SGD(per_param)
    w = pyro.param("net$$$layer.weight", torch.tensor(2.0))
    w.backward()
    optim([w.unconstrained()])
    assert seen == ["net.layer.weight"] and pyro.param("net$$$layer.weight").item() == 1.0


@pytest.mark.parametrize("clip_norm", [0.5, 100.0])
def test_clip_norm_clips_each_param_separately(clip_norm):
    optim = pyro.optim.SGD({"lr": 1.0}, {"clip_norm": clip_norm})
    a, b = pyro.param("a", torch.tensor([3.0, 4.0])), pyro.param("b", torch.tensor([1.0, -2.0, 0.5]))
    (a ** 2).sum().mul(0.5).backward()  # gradients are the values
    (b ** 2).sum().mul(0.5).backward()
    expected = {}
    for n, v in (("a", torch.tensor([3.0, 4.0])), ("b", torch.tensor([1.0, -2.0, 0.5]))):
        g = v.clone().requires_grad_()
        g.grad = v.clone()
        torch.nn.utils.clip_grad_norm_(g, clip_norm)
        expected[n] = v - g.grad
    optim([a.unconstrained(), b.unconstrained()])
    # our per-parameter norms (vector_norm, one scaling per tensor) against clip_grad_norm_'s
    # (foreach kernels): same formula, different kernels, so equal up to float32 rounding
    torch.testing.assert_close(pyro.param("a").detach(), expected["a"], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(pyro.param("b").detach(), expected["b"], rtol=1e-6, atol=1e-7)
    if clip_norm == 0.5:  # |a| = 5: gradient scaled to norm 0.5
        assert torch.allclose(expected["a"], torch.tensor([3.0 - 0.3, 4.0 - 0.4]), atol=1e-6)


def test_clip_value_and_per_param_clip_args():
    optim = pyro.optim.SGD({"lr": 1.0}, lambda module, name: {"clip_value": 0.5} if name == "a" else {})
    a, b = pyro.param("a", torch.tensor([3.0, -0.25])), pyro.param("b", torch.tensor([3.0, -0.25]))
    ((a ** 2).sum() * 0.5 + (b ** 2).sum() * 0.5).backward()
    optim([a.unconstrained(), b.unconstrained()])
    assert torch.equal(pyro.param("a").detach(), torch.tensor([2.5, 0.0]))
    assert torch.equal(pyro.param("b").detach(), torch.tensor([0.0, 0.0]))
    clip = optim.grad_clip
    assert clip[a.unconstrained()] is not None and clip[b.unconstrained()] is None


def test_replaced_param_starts_with_fresh_state():
    optim = pyro.optim.Adam({"lr": 0.1})
    for _ in range(2):
        a = pyro.param("a", torch.tensor(1.0))
        a.backward()
        optim([a.unconstrained()])
        a.unconstrained().grad = None
    first = pyro.param("a").detach().clone()
    pyro.clear_param_store()
    a = pyro.param("a", torch.tensor(1.0))
    a.backward()
    optim([a.unconstrained()])
    # a fresh Adam's first step moves by exactly lr (up to eps)
    assert torch.allclose(pyro.param("a").detach(), torch.tensor(0.9), atol=1e-6)
    assert len(optim.optim_objs) == 1 and not torch.equal(first, pyro.param("a").detach())


def test_bad_input_gets_clear_errors():
    with pytest.raises(TypeError, match="optim_args"):
        PyroOptim(torch.optim.SGD, 0.1)
    with pytest.raises(ValueError, match="clip_norm and/or clip_value"):
        PyroOptim(torch.optim.SGD, {"lr": 0.1}, {"max_norm": 1.0})
    optim = pyro.optim.SGD({"lr": 0.1})
    a = pyro.param("a", torch.tensor(1.0))
    with pytest.raises(ValueError, match="leaf tensors"):
        optim([a.unconstrained() * 2])
    per_param = pyro.optim.SGD(lambda module, name: {"lr": 0.1})
    with pytest.raises(ValueError, match=r"unnamed tensor of shape \(2,\)"):
        per_param([torch.zeros(2, requires_grad=True)])
    returns_list = pyro.optim.SGD(lambda module, name: [0.1])
    with pytest.raises(TypeError, match="param 'a' must return a dict"):
        returns_list([a.unconstrained()])


def test_tensors_outside_the_param_store_can_be_stepped():
    optim = pyro.optim.SGD({"lr": 0.5})
    x = torch.tensor([2.0], requires_grad=True)
    x.backward(torch.tensor([1.0]))
    optim([x])
    assert torch.equal(x.detach(), torch.tensor([1.5]))
    assert optim.get_state() == {}


@pytest.mark.cuda
def test_steps_params_on_cuda():
    for name, settings in (("Adam", {"lr": 0.05}), ("ClippedAdam", {"lr": 0.05, "lrd": 0.9}), ("SGD", {"lr": 0.1})):
        pyro.clear_param_store()
        optim = getattr(pyro.optim, name)(settings)
        for _ in range(3):
            a = pyro.param("a", torch.tensor([1.0, -2.0], device="cuda"))
            b = pyro.param("b", torch.tensor(0.5, device="cuda"), constraint=torch.distributions.constraints.positive)
            (loss_of(a) + loss_of(b)).backward()
            optim([a.unconstrained(), b.unconstrained()])
            a.unconstrained().grad = b.unconstrained().grad = None
        got = {n: pyro.param(n).detach() for n in ("a", "b")}
        assert all(v.device.type == "cuda" for v in got.values())
        if name != "SGD":
            assert optim.get_state()["a"]["state"][0]["exp_avg"].device.type == "cuda"
        pyro.clear_param_store()
        cpu_optim = getattr(pyro.optim, name)(settings)
        for _ in range(3):
            a = pyro.param("a", torch.tensor([1.0, -2.0]))
            b = pyro.param("b", torch.tensor(0.5), constraint=torch.distributions.constraints.positive)
            (loss_of(a) + loss_of(b)).backward()
            cpu_optim([a.unconstrained(), b.unconstrained()])
            a.unconstrained().grad = b.unconstrained().grad = None
        for n in ("a", "b"):
            assert torch.allclose(got[n].cpu(), pyro.param(n).detach(), atol=1e-6)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_fused_by_default_and_torch_default_on_request(name):
    cls = TORCH_OPTIMIZERS[name]
    fused = train_pyro(getattr(pyro.optim, name)({"lr": 0.05}))
    pyro.clear_param_store()
    plain = train_pyro(getattr(pyro.optim, name)({"lr": 0.05, "fused": False}))
    reference = train_by_hand(lambda ps: cls(ps, lr=0.05))
    for n in SHAPES:
        assert torch.equal(plain[n], reference[n])
        assert torch.allclose(fused[n], reference[n], rtol=1e-6, atol=1e-6)


def test_complex_params_keep_the_default_implementation():
    optim = pyro.optim.Adam({"lr": 0.1})
    z = pyro.param("z", torch.tensor([1.0 + 1.0j, -2.0j]))
    (z.abs() ** 2).sum().backward()
    optim([z.unconstrained()])
    (group,) = optim._groups
    assert not group.optimizer.param_groups[0].get("fused")
    expected = torch.tensor([1.0 + 1.0j, -2.0j], requires_grad=True)
    ref = torch.optim.Adam([expected], lr=0.1)
    (expected.abs() ** 2).sum().backward()
    ref.step()
    assert torch.equal(pyro.param("z").detach(), expected.detach())
