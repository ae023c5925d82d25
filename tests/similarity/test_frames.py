"""Frame-level comparison: alignment to the slower rate, deterministic sampling, shards."""

import numpy as np
import pytest
from toy_shards import write_model

from strata.similarity import MEASURES, read_similarity
from strata.similarity.frames import (
    FrameSide,
    aligned_chunks,
    aligned_counts,
    average_to_slow,
    choose_frames,
    plan_frames,
)
from strata.similarity.run import run_similarity

CONTROLS = {"groups": 0, "permutations": 0, "confidence": 0.95, "seed": 0}


def test_faster_frames_are_averaged_inside_each_slower_frame():
    # 75 Hz into 50 Hz: slower frame k spans [k/50, (k+1)/50); faster frame i starts at i/75,
    # so k = 0 ← i ∈ {0, 1}, k = 1 ← {2}, k = 2 ← {3, 4}, k = 3 ← {5}.
    fast = np.arange(6, dtype=float)[:, None]
    keep = aligned_counts(np.array([10]), np.array([6]), 50 / 75)
    assert keep.tolist() == [4]
    np.testing.assert_allclose(
        average_to_slow(fast, np.array([6]), keep, 50 / 75).ravel(), [0.5, 2.0, 3.5, 5.0]
    )


def test_alignment_stays_inside_each_utterance_and_drops_unmatched_frames():
    # Two utterances at 100 Hz (5 and 4 frames) into 50 Hz with 2 and 3 slower frames.
    fast = np.arange(9, dtype=float)[:, None]
    counts = np.array([5, 4])
    keep = aligned_counts(np.array([2, 3]), counts, 0.5)
    assert keep.tolist() == [2, 2]  # the slower model's 3rd frame has no 100 Hz frames
    np.testing.assert_allclose(
        average_to_slow(fast, counts, keep, 0.5).ravel(), [0.5, 2.5, 5.5, 7.5]
    )


def test_frame_choice_takes_k_frames_of_each_drawn_utterance_in_time_order():
    counts = np.array([30, 0, 45, 3, 25, 8, 4, 60])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first = choose_frames(counts, 20, 4, seed=3)
    np.testing.assert_array_equal(first, choose_frames(counts, 20, 4, seed=3))
    assert not np.array_equal(first, choose_frames(counts, 20, 4, seed=4))
    assert np.all(np.diff(first) > 0)  # sorted, no repeats
    utt = np.searchsorted(starts, first, side="right") - 1
    picked, per = np.unique(utt, return_counts=True)
    assert len(picked) == 5 and set(per) == {4} and set(picked) <= {0, 2, 4, 5, 6, 7}
    # every eligible utterance (at least 4 frames) when fewer than n // k exist
    everything = choose_frames(counts, 10**6, 4, seed=0)
    utt = np.searchsorted(starts, everything, side="right") - 1
    assert np.unique(utt).tolist() == [0, 2, 4, 5, 6, 7] and len(everything) == 24
    positions = np.concatenate([choose_frames(counts, 4, 4, seed) for seed in range(300)])
    assert len(np.unique(positions)) > 100  # positions vary within utterances
    with pytest.raises(ValueError, match="aligned frames"):
        choose_frames(counts, 3, 4, seed=0)


@pytest.fixture
def two_rates(tmp_path):
    """A 50 Hz model and a 100 Hz model whose two frames per 50 Hz frame average to it
    exactly (plus a trailing 100 Hz frame with no 50 Hz partner)."""
    rng = np.random.default_rng(0)
    ids = [f"utt{i}" for i in range(30)]
    slow = [rng.normal(size=(rng.integers(20, 40), 5)) for _ in ids]
    wiggle = [rng.normal(size=x.shape) for x in slow]
    fast = [
        np.vstack([np.stack([x - e, x + e], 1).reshape(-1, 5), rng.normal(size=(1, 5))])
        for x, e in zip(slow, wiggle, strict=True)
    ]
    noise = [x + 3 * rng.normal(size=x.shape) for x in fast]
    dir_a = write_model(tmp_path, "slow", {"s0": slow}, ids, rate=50.0)
    dir_b = write_model(tmp_path, "fast", {"f0": fast, "f1": noise}, ids, rate=100.0)
    return dir_a, dir_b, sum(len(x) for x in slow)


def test_aligned_frames_of_the_same_signal_have_cka_one(two_rates, tmp_path):
    dir_a, dir_b, total = two_rates
    out = tmp_path / "frame.parquet"
    table = run_similarity(
        dir_a,
        dir_b,
        (["s0"], ["f0", "f1"]),
        "linear_cka",
        "frame",
        out,
        CONTROLS,
        {"n": 100, "per_utterance": 4, "seed": 0},
    )
    matrix = read_similarity(out)
    assert matrix.loc["s0", "f0"] == pytest.approx(1.0, abs=1e-6)
    assert matrix.loc["s0", "f1"] < 0.5
    assert table.attrs["n"] == 100 and table.attrs["n_utterances"] == 25
    assert table.attrs["frame_rate"] == 50.0
    assert table.attrs["frame_rates"] == [50.0, 100.0] and total > 100
    # k frames of every utterance when n exceeds them; still the same signal.
    everything = run_similarity(
        dir_a,
        dir_b,
        (["s0"], ["f0"]),
        "linear_cka",
        "frame",
        tmp_path / "all.parquet",
        CONTROLS,
        {"n": 10**6, "per_utterance": 5, "seed": 0},
    )
    assert everything.attrs["n"] == 5 * 30 and everything.attrs["per_utterance"] == 5
    assert everything["value"].iloc[0] == pytest.approx(1.0, abs=1e-6)


def test_streaming_frames_match_in_memory_frames_on_one_batch(two_rates, tmp_path):
    dir_a, dir_b, total = two_rates
    frames = {"n": 150, "seed": 1}
    full = run_similarity(
        dir_a,
        dir_b,
        (["s0"], ["f0", "f1"]),
        "linear_cka_debiased",
        "frame",
        tmp_path / "a.parquet",
        CONTROLS,
        frames,
    )
    streamed = run_similarity(
        dir_a,
        dir_b,
        (["s0"], ["f0", "f1"]),
        "linear_cka_minibatch",
        "frame",
        tmp_path / "b.parquet",
        CONTROLS,
        frames,
    )
    np.testing.assert_allclose(streamed["value"], full["value"], atol=1e-6)
    assert streamed.attrs["minibatches"] == 1


def test_the_plan_owners_are_the_utterances_the_chunks_read(two_rates):
    dir_a, dir_b, _ = two_rates
    side_a, side_b = FrameSide.open(dir_a, ["s0"]), FrameSide.open(dir_b, ["f0"])
    plan = plan_frames(side_a, side_b, 60, 3, seed=2)
    parts = list(aligned_chunks(side_a, side_b, plan, chunk_utts=7))
    owners = np.concatenate([owner for _, _, owner in parts])
    np.testing.assert_array_equal(owners, plan.owners)
    assert set(np.bincount(owners)[np.unique(owners)]) == {3} and len(np.unique(owners)) == 20
    assert sum(len(xs[0]) for xs, _, _ in parts) == 60


def test_frames_of_different_utterances_are_refused(two_rates, tmp_path):
    dir_a, _, _ = two_rates
    rng = np.random.default_rng(1)
    other = write_model(
        tmp_path,
        "other",
        {"f0": [rng.normal(size=(9, 5))] * 6},
        [f"utt{i}" for i in (1, 0, 2, 3, 4, 5)],
        rate=100.0,
    )
    with pytest.raises(ValueError, match="not on identical utterances"):
        run_similarity(
            dir_a,
            other,
            (["s0"], ["f0"]),
            "linear_cka",
            "frame",
            tmp_path / "x.parquet",
            CONTROLS,
            {"n": 50, "seed": 0},
        )
    assert not (tmp_path / "x.parquet").exists()


def test_averaging_only_the_picked_frames_equals_picking_from_all():
    rng = np.random.default_rng(0)
    counts, keep = np.array([7, 5, 9]), np.array([3, 2, 4])
    fast, picked = rng.normal(size=(21, 3)), np.array([0, 2, 3, 6, 8])
    every = average_to_slow(fast, counts, keep, 0.5)
    np.testing.assert_array_equal(average_to_slow(fast, counts, keep, 0.5, picked), every[picked])
    assert len(every) == keep.sum()


@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_every_selectable_measure_runs_as_a_frame_level_job(two_rates, tmp_path, measure):
    dir_a, dir_b, _ = two_rates
    controls = {"groups": 5, "permutations": 4, "confidence": 0.9, "seed": 0}
    table = run_similarity(
        dir_a, dir_b, (["s0"], ["f0", "f1"]), measure, "frame",
        tmp_path / "m.parquet", controls, {"n": 120, "seed": 0},
    )  # fmt: skip
    props = table.attrs["properties"]
    same, noisy = table["value"]
    identical = 1.0 if props["higher_is_similar"] else 0.0
    assert same == pytest.approx(identical, abs=1e-6)  # the aligned signal is the same
    assert abs(noisy - identical) > abs(same - identical)
    assert table[["p", "p_fwer", "ci_low", "ci_high"]].notna().all().all()
