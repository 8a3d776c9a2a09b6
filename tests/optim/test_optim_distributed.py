"""DistributedOptimizer: two gloo processes on loopback against one process on all the data."""

import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import pyro
import pyro.optim

import _optim_dist_workers as workers

JOIN_TIMEOUT_S = 60


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Run both ranks of _optim_dist_workers.worker once; return their results and exit codes."""
    out_dir = tmp_path_factory.mktemp("dist")
    ctx = mp.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=workers.worker, args=(rank, 2, port, str(out_dir))) for rank in range(2)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, "a rank hung instead of failing"
    results = [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for r, result in enumerate(results):
        assert "error" not in result, f"rank {r}: {result.get('error')}"
    return results, [p.exitcode for p in procs]


def test_two_ranks_match_one_process_on_all_the_data(two_ranks):
    results, _ = two_ranks
    expected = workers.train_single_process()
    assert set(expected) == {"loc", "scale", "shift"}
    for result in results:
        assert result["params"].keys() == expected.keys()
        for name, value in expected.items():
            assert torch.allclose(result["params"][name], value, rtol=0, atol=1e-6), name
    # the ranks hold bit-identical parameters
    for name in expected:
        assert torch.equal(results[0]["params"][name], results[1]["params"][name])


def test_new_params_are_copied_from_rank_0(two_ranks):
    results, _ = two_ranks
    noisy = results[0]["noisy"]  # drawn with a different seed on each rank, then stepped once
    assert torch.equal(noisy[0], noisy[1])


def test_scheduler_metric_is_averaged_across_ranks(two_ranks):
    results, _ = two_ranks
    assert [r["plateau_best"] for r in results] == [1.0, 1.0]


def test_ranks_that_disagree_on_params_fail_together(two_ranks):
    results, _ = two_ranks
    for result in results:
        message = result["disagreement"]
        assert "ranks disagree on the parameters of step" in message
        assert "rank 1 has ['only_on_rank1[2]:float32']" in message


def test_a_dying_rank_makes_the_other_fail_instead_of_hanging(two_ranks):
    results, exitcodes = two_ranks
    assert exitcodes == [0, 3]
    message = results[0]["death"]
    assert "DistributedOptimizer on rank 0 of 2" in message
    assert "another rank probably died" in message
    assert results[0]["death_seconds"] < 15  # the group's timeout is 10 s


def test_needs_an_initialised_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        pyro.optim.DistributedOptimizer(pyro.optim.Adam({"lr": 0.1}))
