"""``poutine.collapse``: a block's discrete sites summed out, against hand-written marginals,
brute-force sums and TraceEnum_ELBO's enumerated marginal."""

import itertools

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceEnum_ELBO, config_enumerate
from pyro.infer.collapse import CollapseMessenger

W = torch.tensor([0.2, 0.5, 0.3])
LOCS = torch.tensor([-2.0, 0.0, 3.0])
DATA = torch.tensor([0.1, 2.5, -1.7, 4.0])


def _sample_sites(tr):
    return [n for n, s in tr.nodes.items() if s["type"] == "sample"]


def _log_joint(model, *args):
    tr = poutine.trace(model).get_trace(*args)
    tr.compute_log_prob()
    return tr, tr.log_prob_sum()


def _local_mixture(w=W, locs=LOCS, data=DATA):
    with pyro.plate("data", len(data)):
        with poutine.collapse():
            z = pyro.sample("z", dist.Categorical(w))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)


def test_local_mixture_equals_the_hand_written_marginal():
    tr, got = _log_joint(_local_mixture)
    assert _sample_sites(tr) == ["data", "_collapse_z"]  # the plate's indices and one factor
    expected = torch.logsumexp(W.log()[:, None] + dist.Normal(LOCS[:, None], 1.0).log_prob(DATA), 0)
    assert torch.allclose(got, expected.sum(), atol=1e-5)


def test_global_variable_with_a_plate_inside_the_block():
    def model():
        with poutine.collapse(first_available_dim=-2):
            z = pyro.sample("z", dist.Categorical(W))
            with pyro.plate("data", 4):
                pyro.sample("x", dist.Normal(LOCS[z], 1.0), obs=DATA)

    _, got = _log_joint(model)
    per_value = W.log() + dist.Normal(LOCS[:, None], 1.0).log_prob(DATA).sum(-1)
    assert torch.allclose(got, torch.logsumexp(per_value, 0), atol=1e-5)


@pytest.mark.parametrize("size, match", [
    (4, "Shape mismatch inside plate"),  # the plate's own check sees it first
    (3, "site 'x' is in plate 'data' at dim -1, which site 'z' is summed out along"),
])
def test_a_plate_inside_the_block_needs_a_free_dim(size, match):
    def model():
        with poutine.collapse():
            z = pyro.sample("z", dist.Categorical(W))
            with pyro.plate("data", size):
                pyro.sample("x", dist.Normal(LOCS[z], 1.0), obs=DATA[:size])

    with pytest.raises(ValueError, match=match):
        poutine.trace(model).get_trace()


def test_chain_of_discrete_sites_equals_the_brute_force_sum():
    trans = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    obs = torch.tensor(0.8)

    def model():
        with poutine.collapse():
            a = pyro.sample("a", dist.Bernoulli(0.35))
            b = pyro.sample("b", dist.Categorical(trans[a.long()]))
            pyro.sample("y", dist.Normal(LOCS[b] + a, 0.5), obs=obs)

    _, got = _log_joint(model)
    terms = []
    for a, b in itertools.product(range(2), range(3)):
        terms.append(dist.Bernoulli(0.35).log_prob(torch.tensor(float(a)))
                     + trans[a, b].log() + dist.Normal(LOCS[b] + a, 0.5).log_prob(obs))
    assert torch.allclose(got, torch.logsumexp(torch.stack(terms), 0), atol=1e-5)


def test_subsampled_plate_scales_the_factor_once():
    full = torch.tensor([0.1, 2.5, -1.7, 4.0, 0.3, -0.2, 1.1, 2.2, -3.0, 0.0])
    idx = torch.tensor([1, 4, 8])

    def model():
        with pyro.plate("data", 10, subsample=idx) as ind:
            with poutine.collapse():
                z = pyro.sample("z", dist.Categorical(W))
                pyro.sample("x", dist.Normal(LOCS[z], 1.0), obs=full[ind])

    tr, got = _log_joint(model)
    site = tr.nodes["_collapse_z"]
    assert site["cond_indep_stack"] == () and site["scale"] == 1.0
    per_point = torch.logsumexp(W.log()[:, None] + dist.Normal(LOCS[:, None], 1.0).log_prob(full[idx]), 0)
    assert torch.allclose(got, per_point.sum() * 10 / 3, atol=1e-5)


def test_collapse_equals_trace_enum_marginal_and_its_gradient():
    w = W.clone().requires_grad_()
    locs = LOCS.clone().requires_grad_()
    _, collapsed = _log_joint(_local_mixture, w, locs)
    grads = torch.autograd.grad(collapsed, (w, locs))

    @config_enumerate
    def enumerated(w, locs):
        with pyro.plate("data", 4):
            z = pyro.sample("z", dist.Categorical(w))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=DATA)

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    loss = elbo.differentiable_loss(enumerated, lambda w, locs: None, w, locs)
    assert torch.allclose(collapsed, -loss, atol=1e-5)
    for g, h in zip(grads, torch.autograd.grad(-loss, (w, locs))):
        assert torch.allclose(g, h, atol=1e-5)


def test_collapsed_model_under_trace_elbo_with_a_guide():
    # Outside the block, an ordinary continuous latent with a guide; the ELBO sees one factor.
    def model():
        loc = pyro.sample("loc", dist.Normal(0.0, 1.0))
        with pyro.plate("data", 4), poutine.collapse():
            z = pyro.sample("z", dist.Categorical(W))
            pyro.sample("x", dist.Normal(LOCS[z] + loc, 1.0), obs=DATA)

    def guide():
        pyro.sample("loc", dist.Delta(torch.tensor(0.5)))

    loss = Trace_ELBO().differentiable_loss(model, guide)
    lp = dist.Normal(0.0, 1.0).log_prob(torch.tensor(0.5))
    lp = lp + torch.logsumexp(W.log()[:, None]
                              + dist.Normal(LOCS[:, None] + 0.5, 1.0).log_prob(DATA), 0).sum()
    assert torch.allclose(loss, -lp, atol=1e-5)


def test_continuous_unobserved_site_is_refused():
    def model():
        with poutine.collapse():
            pyro.sample("u", dist.Normal(0.0, 1.0))

    with pytest.raises(NotImplementedError, match="site 'u' \\(Normal\\) has no finite support"):
        poutine.trace(model).get_trace()


def test_registered_in_poutine_and_bad_arguments():
    assert poutine.collapse is not None and poutine.CollapseMessenger is CollapseMessenger
    with pytest.raises(ValueError, match="first_available_dim must be negative"):
        poutine.collapse(first_available_dim=0)
    with pytest.raises(ValueError, match="is not callable"):
        poutine.collapse(3)
