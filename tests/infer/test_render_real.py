"""Real pictures: render_model through the Graphviz ``dot`` program, plot_losses through
matplotlib (both are test dependencies of the tox envs that run tests/infer)."""

import math

import numpy as np
import pytest
import torch
from matplotlib.image import imread

import pyro
import pyro.distributions as dist
from pyro.infer import plot_losses

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Graphviz's "gray" (the fill of observed sites) and matplotlib's tab:blue / tab:red.
GRAY = (192, 192, 192)
TAB_BLUE = (31, 119, 180)
TAB_RED = (214, 39, 40)


def model(data):
    s = pyro.param("s", torch.tensor(1.0), constraint=dist.constraints.positive)
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("groups", data.shape[0], dim=-2):
        g = pyro.sample("g", dist.Normal(mu, 1.0))
        with pyro.plate("obs_plate", data.shape[1], dim=-1):
            pyro.sample("obs", dist.Normal(g, s), obs=data)


DATA = torch.zeros(3, 4)


@pytest.fixture(autouse=True)
def clean_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def _rgb_counts(image: np.ndarray) -> dict:
    """{(r, g, b): pixel count} of an image read by matplotlib (floats in [0, 1])."""
    rgb = (image[..., :3] * 255).round().astype(int).reshape(-1, 3)
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    return {tuple(int(c) for c in colour): int(n) for colour, n in zip(colours, counts)}


def test_render_model_writes_a_png_that_decodes_to_the_laid_out_picture(tmp_path):
    path = tmp_path / "model.png"
    graph = pyro.render_model(model, model_args=(DATA,), filename=str(path),
                              render_params=True)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.png"]  # the DOT file is removed
    image = imread(str(path))
    # dot's layout gives the drawing's size in inches (first line of its "plain" output); the
    # PNG adds Graphviz's default pad of 4 points on each side, at 96 dpi.
    _, _, width, height = graph.pipe(format="plain").decode().splitlines()[0].split()
    assert abs(image.shape[1] - (float(width) + 8 / 72) * 96) <= 1.5
    assert abs(image.shape[0] - (float(height) + 8 / 72) * 96) <= 1.5
    counts = _rgb_counts(image)
    assert len(counts) > 2  # not blank: background, ink and antialiasing at least
    assert counts.get((255, 255, 255), 0) < 0.99 * image.shape[0] * image.shape[1]
    assert counts.get(GRAY, 0) > 500  # the observed site's filled ellipse
    assert counts.get((0, 0, 0), 0) > 500  # outlines, edges, labels


def test_render_model_writes_svg_and_pdf(tmp_path):
    svg = tmp_path / "model.svg"
    pyro.render_model(model, model_args=(DATA,), filename=str(svg), render_params=True)
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    titles = set(part.split("</title>")[0] for part in text.split("<title>")[1:])
    assert {"mu", "g", "obs", "s", "cluster_groups", "cluster_obs_plate",
            "mu&#45;&gt;g", "g&#45;&gt;obs", "s&#45;&gt;obs"} <= titles
    assert 'fill="gray"' in text  # only the observed site is filled gray
    assert text.count('fill="gray"') == 1

    pdf = tmp_path / "model.pdf"
    pyro.render_model(model, model_args=(DATA,), filename=str(pdf))
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page") >= 1


def test_plot_losses_writes_a_png_with_the_curve_and_the_final_marker(tmp_path):
    steps = torch.arange(200, dtype=torch.float64)
    losses = (50.0 * torch.exp(-steps / 40.0) + 5.0 + torch.sin(steps)).tolist()
    path = tmp_path / "losses.png"
    fig = plot_losses(losses, filename=str(path))
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = imread(str(path))
    width, height = fig.get_size_inches() * fig.dpi
    assert image.shape[:2] == (round(height), round(width)) == (350, 600)
    counts = _rgb_counts(image)
    assert len(counts) > 2
    assert counts.get((255, 255, 255), 0) < 0.99 * image.shape[0] * image.shape[1]
    assert counts.get(TAB_BLUE, 0) > 300  # the smoothed curve
    assert counts.get(TAB_RED, 0) > 10  # the final value's marker
    # The marked value is the last smoothed loss (bias-corrected moving average, 0.9).
    state = 0.0
    for t, value in enumerate(losses):
        state = 0.9 * state + 0.1 * value
    final = state / (1 - 0.9 ** len(losses))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [f"{final:.4g}"] and math.isclose(float(texts[0]), final, rel_tol=1e-3)


def test_a_missing_dot_program_names_what_to_install(tmp_path, monkeypatch):
    # without Graphviz's executables on PATH, graphviz raises ExecutableNotFound; we say what to do
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"the Graphviz 'dot' program was not found; .*apt-get install graphviz"):
        pyro.render_model(model, model_args=(DATA,), filename=str(tmp_path / "m.png"))
