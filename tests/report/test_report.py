import base64
import json
import re
import shutil
import subprocess
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from strata.report import build_report
from strata.report.build import best_layers
from strata.report.figures import _colour
from strata.similarity.controls import CellStats
from strata.similarity.matrix import long_form, write_similarity
from strata.similarity.measures import get_measure

MODELS = {"wavlm_x": 5, "ecapa_y": 3}
PAIRS = [("wavlm_x", "wavlm_x"), ("wavlm_x", "ecapa_y"), ("wavlm_x", "ecapa_y_twin")]


def similarity_table(a: str, b: str, path) -> None:
    rows, cols = MODELS[a.removesuffix("_twin")], MODELS[b.removesuffix("_twin")]
    value = np.random.default_rng(0).uniform(-0.2, 1, size=(rows, cols))
    stats = CellStats(
        value, value - 0.1, value + 0.1, np.full_like(value, 0.5), np.full_like(value, 0.5)
    )
    layers = ([f"L{i}" for i in range(rows)], [f"L{i}" for i in range(cols)])
    table = long_form(stats, layers, "linear_cka_debiased", "utterance", 77)
    props = asdict(get_measure("linear_cka_debiased").properties)
    meta = {"model_a": a, "model_b": b, "measure": "linear_cka_debiased", "n": 77,
            "level": "utterance", "properties": props}  # fmt: skip
    write_similarity(table, path, meta)


def probe_table(task: str, peak: dict[str, int]) -> pd.DataFrame:
    rows = []
    for model, n in MODELS.items():
        for i in range(n):
            dev = 0.9 if i == peak[model] else 0.3 + 0.01 * i
            rows.append(row(model, f"L{i}", i, n, task, dev))
        rows.append(row(model, "weighted_sum", n, n, task, 0.95))
    return pd.DataFrame(rows)


def row(model, layer, index, n, task, dev):
    return {
        "model": model,
        "layer": layer,
        "layer_index": index,
        "num_layers": n,
        "task": task,
        "kind": "classification",
        "metric": "accuracy",
        "test": dev - 0.05,
        "ci_low": dev - 0.1,
        "ci_high": dev - 0.01,
        "chance": 0.1,
        "below_chance": False,
        "train": 1.0,
        "dev": dev,
        "lr": 0.01,
    }


def weighted_record(model, task, n):
    usage = np.arange(1.0, n + 1) / np.arange(1.0, n + 1).sum()
    layers = [f"L{i}" for i in range(n)]
    weights = np.full(n, 1 / n)
    return {
        "model": model,
        "task": task,
        "layers": layers,
        "usage": usage.tolist(),
        "weights": weights.tolist(),
    }


@pytest.fixture
def report(tmp_path):
    tables = {
        "speaker_id": probe_table("speaker_id", {"wavlm_x": 1, "ecapa_y": 2}),
        "keyword": probe_table("keyword", {"wavlm_x": 3, "ecapa_y": 0}),
    }
    paths, weighted = {}, []
    for task, table in tables.items():
        paths[task] = tmp_path / f"{task}.parquet"
        table.to_parquet(paths[task], index=False)
        for model, n in MODELS.items():
            weighted.append(tmp_path / f"w_{task}_{model}.json")
            weighted[-1].write_text(json.dumps(weighted_record(model, task, n)))
    sims = []
    for a, b in PAIRS:
        sims.append(tmp_path / f"{a}_{b}.parquet")
        similarity_table(a, b, sims[-1])
    cards = [
        {
            "model": m,
            "family": "f",
            "init": "random",
            "layers": [{}] * n,
            "weights_sha256": "ab" * 32,
            "source": "checkpoint",
        }
        for m, n in MODELS.items()
    ]
    run = {
        "title": "T",
        "dataset": "embedded",
        "num_utterances": 77,
        "manifest_sha256": "c" * 64,
        "code_version": "0.1.0+abc",
        "config_sha256": "d" * 64,
    }
    out = tmp_path / "report" / "index.html"
    build_report(
        paths,
        weighted,
        sims,
        cards,
        run,
        out,
        tmp_path / "report" / "figures",
        controls={"ecapa_y": "ecapa_y_twin"},
    )
    return out, tables


def test_best_layer_is_chosen_on_dev():
    best = best_layers({"speaker_id": probe_table("speaker_id", {"wavlm_x": 1, "ecapa_y": 2})})
    assert best.set_index("model")["best layer"].to_dict() == {"wavlm_x": "L1", "ecapa_y": "L2"}
    assert best["test"].tolist() == pytest.approx([0.85, 0.85])
    assert best["weighted sum"].tolist() == pytest.approx([0.9, 0.9])
    assert best["95% CI"].tolist() == ["[0.800, 0.890]"] * 2
    assert set(best["chosen on"]) == {"dev"}


def test_without_dev_scores_no_best_layer_is_chosen_and_the_row_says_so():
    table = probe_table("asv", {"wavlm_x": 1, "ecapa_y": 2}).assign(metric="eer", dev=None)
    table["test"] = 1 - table["test"]  # read as EER (lower is better)
    best = best_layers({"asv": table})
    assert set(best["chosen on"]) == {"no dev scores: not chosen"}
    assert set(best["best layer"]) == {""} and best["test"].isna().all()
    assert best["weighted sum"].notna().all()  # the weighted sum needs no choice of layer


def test_report_holds_every_task_pair_and_model(report):
    out, _ = report
    page = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    # two probe curves, two usage bars, three heatmaps, two cross-model line plots
    assert len(images) == 2 + 2 + 3 + 2
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    for text in [
        "linear_cka_debiased, utterance level: wavlm_x × wavlm_x (n=77)</figcaption>",
        "linear_cka_debiased, utterance level: wavlm_x × ecapa_y (n=77); beside it, "
        "control: wavlm_x × ecapa_y_twin</figcaption>",
        "speaker_id",
        "keyword",
        "0.1.0+abc",
    ]:
        assert text in page
    best_section = page[page.index('id="best"') : page.index('id="similarity"')]
    row = r"<tr>\s*<td>(\w+)</td>\s*<td>(\w+)</td>\s*<td>\w+</td>\s*<td>(\w+)</td>"
    cells = re.findall(row, best_section)
    assert set(cells) == {
        ("wavlm_x", "speaker_id", "L1"),
        ("ecapa_y", "speaker_id", "L2"),
        ("wavlm_x", "keyword", "L3"),
        ("ecapa_y", "keyword", "L0"),
    }
    pngs = sorted(p.name for p in (out.parent / "figures").iterdir())
    stem = "utterance_linear_cka_debiased_wavlm_x__"
    assert pngs == [
        "probe_keyword.png",
        "probe_speaker_id.png",
        "usage_keyword.png",
        "usage_speaker_id.png",
        f"{stem}ecapa_y.png",
        f"{stem}ecapa_y_lines.png",
        f"{stem}ecapa_y_twin.png",
        f"{stem}ecapa_y_twin_lines.png",
        f"{stem}wavlm_x.png",
    ]
    with Image.open(out.parent / "figures" / f"{stem}ecapa_y.png") as img:
        assert img.width > 200 and img.height > 200
        assert json.loads(img.info["Source"])["code_version"] == "0.1.0+abc"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_report_renders_in_headless_chromium(report, tmp_path):
    out, _ = report
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            out.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # The inlined figures paint a large area with colour (heatmaps), not just black text.
    colourful = (pixels.max(-1) - pixels.min(-1)) > 60
    assert colourful.mean() > 0.01


def test_colour_scales_diverge_where_values_can_be_negative():
    debiased = asdict(get_measure("linear_cka_debiased").properties)
    style = _colour(debiased, np.array([-0.3, 0.2, 0.9]))
    assert style["cmap"] == "RdBu_r" and style["norm"].vcenter == 0.0
    assert style["norm"].vmin == -0.3 and style["norm"].vmax == 1.0  # nothing clipped
    biased = asdict(get_measure("linear_cka").properties)
    assert _colour(biased, np.array([0.2]))["vmin"] == 0.0
    distance = asdict(get_measure("procrustes").properties)
    assert _colour(distance, np.array([0.2]))["cmap"].endswith("_r")  # small = similar


def test_figures_fit_the_window_and_never_clip_a_value():
    from strata.report.figures import probe_curve, usage_bars

    models = {f"m{i}": weighted_record(f"m{i}", "phones", 13) for i in range(7)}
    fig = usage_bars(models, "phones")
    assert fig.get_size_inches()[0] * 110 <= 1400  # the report saves at 110 dpi
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 7 and len({ax.get_position().y0 for ax in drawn}) == 2  # wrapped
    table = probe_table("phones", {"wavlm_x": 1, "ecapa_y": 0}).assign(metric="per")
    table.loc[0, ["test", "ci_high"]] = [1.10, 1.18]  # a PER above 1
    (ax,) = probe_curve(table, "phones", "per").axes
    assert ax.get_ylim()[1] >= 1.18


def test_a_seeded_family_is_drawn_as_thin_seeds_and_their_mean():
    from strata.report.figures import probe_curve

    rows = []
    for seed, shift in (("s0", 0.0), ("s1", 0.1), ("s2", 0.2)):
        rows += [row(f"fam_{seed}", f"L{i}", i, 3, "sid", 0.5 + shift + 0.1 * i) for i in range(3)]
    rows += [row("alone", f"L{i}", i, 3, "sid", 0.4) for i in range(3)]
    table = pd.DataFrame(rows)
    families = {"fam": ["fam_s0", "fam_s1", "fam_s2"], "alone": ["alone"]}
    (ax,) = probe_curve(table, "sid", "accuracy", families).axes
    labels = [line.get_label() for line in ax.lines]
    assert "fam (mean of 3 seeds)" in labels and "alone" in labels
    mean = next(line for line in ax.lines if line.get_label().startswith("fam ("))
    seeds = table[table.model.str.startswith("fam")].groupby("layer_index")["test"]
    np.testing.assert_allclose(mean.get_ydata(), [0.55 + 0.1 * i for i in range(3)])
    np.testing.assert_allclose(mean.get_ydata(), seeds.mean().to_numpy())
    thin = [line for line in ax.lines if line.get_linewidth() < 1 and line.get_label()[0] == "_"]
    assert len(thin) == 3  # one per seed, unlabelled
