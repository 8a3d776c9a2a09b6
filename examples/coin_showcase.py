"""Is the coin fair? The Beta-Bernoulli model fitted by variational inference and by NUTS.

The showcase of the README. It fits the same model twice by SVI, with a hand-written Beta guide
and with an automatic guide (AutoNormal), then samples it with NUTS (four chains run as one
batch), prints each posterior beside the exact one (the Beta prior is conjugate, so the
posterior is known in closed form) with the chains' diagnostics, and then draws posterior
predictive figures with Predictive and compares them with the exact Beta-Binomial.
With the pyro-infer[render,plot] extras (and the Graphviz ``dot`` program) it also writes the
AutoNormal fit's loss curve (``plot_losses``) and a drawing of the model (``render_model``)
into the output folder.

Run: python examples/coin_showcase.py [--steps N] [--seed S] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
from pathlib import Path
from typing import List, Optional, Tuple

import torch

import pyro
import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO, plot_losses
from pyro.infer.autoguide import AutoNormal
from pyro.optim import Adam

PRIOR_A, PRIOR_B = 10.0, 10.0
# Ten tosses: six heads, four tails.
DATA = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])


def model(data: Optional[torch.Tensor] = None, num_tosses: Optional[int] = None) -> None:
    """Fairness ~ Beta prior; each toss ~ Bernoulli(fairness). With no data, tosses are drawn."""
    fairness = pyro.sample("fairness", dist.Beta(PRIOR_A, PRIOR_B))
    with pyro.plate("tosses", len(data) if data is not None else num_tosses):
        pyro.sample("toss", dist.Bernoulli(fairness), obs=data)


def beta_guide(data: Optional[torch.Tensor] = None, num_tosses: Optional[int] = None) -> None:
    a = pyro.param("alpha_q", torch.tensor(15.0), constraint=constraints.positive)
    b = pyro.param("beta_q", torch.tensor(15.0), constraint=constraints.positive)
    pyro.sample("fairness", dist.Beta(a, b))


def fit(guide, steps: int, lr: float) -> Tuple[float, List[float]]:
    """Run SVI for ``steps`` steps; return the seconds it took and the loss of each step."""
    svi = SVI(model, guide, Adam({"lr": lr}), Trace_ELBO(num_particles=8, vectorize_particles=True))
    start = time.perf_counter()
    losses = svi.run(DATA, num_steps=steps, progress_bar=False)
    return time.perf_counter() - start, losses


def write_pictures(out: Path, losses: List[float]) -> None:
    """Write the loss curve and the model's drawing into ``out``, as far as the extras allow."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        plot_losses(losses, filename=str(out / "coin_losses.png"))
        print(f"wrote {out / 'coin_losses.png'} (plot_losses)")
    except ImportError as e:
        print(f"no loss plot: {e}")
    if shutil.which("dot") is None:
        print("no model drawing: the Graphviz 'dot' program is missing (e.g. apt-get install graphviz)")
        return
    try:
        pyro.render_model(model, model_args=(DATA,), render_distributions=True,
                          filename=str(out / "coin_model.png"))
        print(f"wrote {out / 'coin_model.png'} (render_model)")
    except ImportError as e:
        print(f"no model drawing: {e}")


def beta_moments(a: float, b: float) -> tuple:
    mean = a / (a + b)
    return mean, math.sqrt(mean * (1 - mean) / (a + b + 1))


def beta_binomial_pmf(k: int, n: int, a: float, b: float) -> float:
    log_choose = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    log_beta = lambda x, y: math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    return math.exp(log_choose + log_beta(k + a, n - k + b) - log_beta(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("showcase_out"),
                        help="folder for the loss plot and the model drawing (default showcase_out)")
    args = parser.parse_args()

    heads = int(DATA.sum())
    tails = len(DATA) - heads
    post_a, post_b = PRIOR_A + heads, PRIOR_B + tails
    exact_mean, exact_std = beta_moments(post_a, post_b)
    print(f"data: {heads} heads, {tails} tails; prior Beta({PRIOR_A:g}, {PRIOR_B:g})")
    print(f"exact posterior: Beta({post_a:g}, {post_b:g})  mean {exact_mean:.4f}  std {exact_std:.4f}\n")

    pyro.set_rng_seed(args.seed)
    pyro.clear_param_store()
    seconds, _ = fit(beta_guide, args.steps, lr=0.02)
    a, b = pyro.param("alpha_q").item(), pyro.param("beta_q").item()
    mean, std = beta_moments(a, b)
    print(f"Beta guide  ({args.steps} SVI steps, {seconds:.1f} s): Beta({a:.2f}, {b:.2f})  "
          f"mean {mean:.4f}  std {std:.4f}")

    pyro.set_rng_seed(args.seed)
    pyro.clear_param_store()
    auto = AutoNormal(model)
    seconds, losses = fit(auto, args.steps, lr=0.02)
    draws = Predictive(model, guide=auto, num_samples=20000, return_sites=["fairness"])(DATA)["fairness"]
    print(f"AutoNormal  ({args.steps} SVI steps, {seconds:.1f} s): median {auto.median(DATA)['fairness'].item():.4f}"
          f"  mean {draws.mean().item():.4f}  std {draws.std().item():.4f}\n")

    pyro.set_rng_seed(args.seed)
    start = time.perf_counter()
    mcmc = MCMC(NUTS(model), num_samples=1000, warmup_steps=500, num_chains=4, disable_progbar=True)
    mcmc.run(DATA)
    seconds = time.perf_counter() - start
    fairness = mcmc.get_samples()["fairness"]
    print(f"NUTS        (4 chains x 1,000 draws, {seconds:.1f} s): mean {fairness.mean().item():.4f}"
          f"  std {fairness.std().item():.4f}")
    mcmc.summary(prob=0.9)
    print()

    # Posterior predictive: heads in the next 10 tosses, from the Beta guide.
    pyro.clear_param_store()
    pyro.set_rng_seed(args.seed)
    fit(beta_guide, args.steps, lr=0.02)
    predictive = Predictive(model, guide=beta_guide, num_samples=20000, return_sites=["toss"])
    future = predictive(None, 10)["toss"].sum(-1)
    print("posterior predictive: heads in the next 10 tosses")
    print("  k   Predictive   exact Beta-Binomial")
    for k in range(11):
        estimate = (future == k).float().mean().item()
        exact = beta_binomial_pmf(k, 10, post_a, post_b)
        bar = "#" * round(estimate * 100)
        print(f" {k:2d}   {estimate:.4f}       {exact:.4f}   {bar}")
    print(f"\nP(next toss is heads): Predictive {(future / 10).mean().item():.4f}, exact {exact_mean:.4f}\n")
    write_pictures(args.out, losses)


if __name__ == "__main__":
    main()
