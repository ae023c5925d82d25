"""Snakemake's own report (`snakemake --report`), beside strata's, built from the real DAG's run.

Every expectation comes from the run itself (its config's tasks, its figure folder, its
similarity tables), not from a list written down here.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from snakemake.io import regex_from_filepattern

from strata.report.snakemake_report import figure_patterns

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIGURES = "results/report/figures"


def _script_json(html: str, script_id: str, name: str):
    """The JSON value the report page assigns in ``<script id="script_id">var name = ...;``."""
    start = html.index(f'<script id="{script_id}">')
    at = html.index(f"var {name} = ", start) + len(f"var {name} = ")
    return json.JSONDecoder().raw_decode(html, at)[0]


def _text(html: str) -> str:
    """Visible text, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@dataclass
class SnakemakeReport:
    archive: zipfile.ZipFile
    folder: str  # the zip's top folder: the report's file name without .zip
    results: dict[str, dict]  # result path → name, labels, caption, mime_type, data_uri...
    categories: dict[str, dict[str, list[str]]]  # category → subcategory → result paths
    description: str  # the workflow description, as HTML

    def member(self, path: str) -> bytes:
        """The bytes the zip holds for the result at ``path``."""
        return self.archive.read(f"{self.folder}/{self.results[path]['data_uri']}")

    def paths(self, category: str, subcategory: str) -> list[str]:
        return self.categories[category][subcategory]


@pytest.fixture(scope="module")
def smk_report(dag_run, tmp_path_factory) -> SnakemakeReport:
    path = tmp_path_factory.mktemp("snakemake_report") / "study.zip"
    dag_run.snakemake("--report", str(path))
    archive = zipfile.ZipFile(path)
    html = archive.read("study/report.html").decode()
    yield SnakemakeReport(
        archive=archive,
        folder="study",
        results=_script_json(html, "results", "results"),
        categories=_script_json(html, "categories", "categories"),
        description=_script_json(html, "workflow-desc", "workflow_desc"),
    )
    archive.close()


def test_workflow_description_is_the_rst_rendered_for_this_run(smk_report, dag_run):
    source = (ROOT / "docs/report/workflow.rst").read_text()
    title = source.splitlines()[0]
    text = _text(smk_report.description)
    assert f'<h1 class="title">{title}</h1>' in smk_report.description
    # Every section of the description, and where strata's own report lives.
    for heading in re.findall(r"^(.+)\n-+$", source, re.M):
        assert f">{heading}</h1>" in smk_report.description.replace("&#39;", "'")
    assert "strata writes its own report to results/report/index.html" in text
    # Rendered for this run: its tasks, measures and levels, not the Jinja source.
    config = dag_run.config
    assert "{{" not in text and "{%" not in text
    tasks = re.search(r"\btasks ([\w, ]+);", text)
    assert tasks and sorted(tasks[1].split(", ")) == sorted(config["tasks"])
    assert f"measures {', '.join(config['similarity']['measures'])} at the" in text
    assert f"the {' and '.join(config['similarity']['levels'])} level" in text
    for model, spec in config["models"].items():
        assert re.search(rf"\b{model}\b", text)
        assert (f"{model}_twin" in text) == ("random_twin" in spec)


def test_categories_are_overview_training_probes_and_similarity(smk_report):
    assert {cat: sorted(subs) for cat, subs in smk_report.categories.items()} == {
        "Overview": ["Tables", "strata report"],
        "Training": ["Loss curves"],
        "Probes": ["Layer usage", "Score per layer", "Tables"],
        "Similarity": ["Across models", "Heatmaps", "Tables"],
    }
    # Every result sits in exactly one place, and the zip holds exactly the results + the page.
    filed = [p for subs in smk_report.categories.values() for ps in subs.values() for p in ps]
    assert sorted(filed) == sorted(smk_report.results)
    members = {f"{smk_report.folder}/{r['data_uri']}" for r in smk_report.results.values()}
    assert sorted(smk_report.archive.namelist()) == sorted(
        members | {f"{smk_report.folder}/report.html"}
    )


def test_labels_are_consistent_within_each_category_and_unique_within_each_subcategory(
    smk_report,
):
    expected_keys = {
        "Overview": {"page"},
        "Training": {"figure"},
        "Probes": {"task"},
        "Similarity": {"level", "measure", "model A", "model B"},
    }
    for category, subcategories in smk_report.categories.items():
        for subcategory, paths in subcategories.items():
            labels = [smk_report.results[p]["labels"] for p in paths]
            assert all(set(label) == expected_keys[category] for label in labels), subcategory
            # The report lists a subcategory by its label values: equal values would hide one.
            values = [tuple(sorted(label.items())) for label in labels]
            assert len(set(values)) == len(values), subcategory


def test_every_figure_of_strata_report_is_in_the_zip(smk_report, dag_run):
    folder = dag_run.workdir / FIGURES
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".png")
    assert names  # the run drew figures
    in_report = sorted(
        smk_report.results[p]["filename"] for p in smk_report.results if p.startswith(FIGURES)
    )
    assert in_report == names
    for name in names:
        path = f"{FIGURES}/{name}"
        assert smk_report.results[path]["mime_type"] == "image/png"
        assert smk_report.member(path) == (folder / name).read_bytes()
    # Filed by what they show: the training losses, probe curves and usage per configured task,
    # similarity figures split into heatmaps and cross-model lines.
    tasks = list(dag_run.config["tasks"])
    probes, usage = (
        smk_report.paths("Probes", "Score per layer"),
        smk_report.paths("Probes", "Layer usage"),
    )
    assert sorted(probes) == sorted(f"{FIGURES}/probe_{t}.png" for t in tasks)
    assert sorted(usage) == sorted(f"{FIGURES}/usage_{t}.png" for t in tasks)
    for path in probes + usage:
        task = Path(path).stem.split("_", 1)[1]
        assert smk_report.results[path]["labels"] == {"task": task}
        assert f"<strong>{task}</strong>" in smk_report.results[path]["caption"]
    assert smk_report.paths("Training", "Loss curves") == [f"{FIGURES}/training_losses.png"]
    similarity = [n for n in names if not n.startswith(("probe_", "usage_", "training_"))]
    assert sorted(smk_report.paths("Similarity", "Across models")) == [
        f"{FIGURES}/{n}" for n in similarity if n.endswith("_lines.png")
    ]
    assert sorted(smk_report.paths("Similarity", "Heatmaps")) == [
        f"{FIGURES}/{n}" for n in similarity if not n.endswith("_lines.png")
    ]


def test_probe_tables_of_every_configured_task_are_in_the_zip(smk_report, dag_run):
    expected = {}
    for task, spec in dag_run.config["tasks"].items():
        expected[f"results/probes/summary/{spec['dataset']}/{task}.csv"] = task
    assert sorted(smk_report.paths("Probes", "Tables")) == sorted(expected)
    for path, task in expected.items():
        result = smk_report.results[path]
        assert smk_report.member(path) == (dag_run.workdir / path).read_bytes()
        assert result["mime_type"] == "text/csv"
        assert result["labels"] == {"task": task}
        assert f"<strong>{task}</strong>" in result["caption"]
        assert f"{task}.parquet" in result["caption"]


def test_similarity_tables_and_figures_share_labels(smk_report, dag_run):
    tables = sorted(
        str(p.relative_to(dag_run.workdir))
        for p in (dag_run.workdir / "results/similarity").rglob("*.parquet")
    )
    assert tables and sorted(smk_report.paths("Similarity", "Tables")) == tables
    table_labels = []
    for path in tables:
        model_a, model_b, _dataset, level, measure = Path(path).with_suffix("").parts[2:]
        labels = {"level": level, "measure": measure, "model A": model_a, "model B": model_b}
        result = smk_report.results[path]
        assert result["labels"] == labels
        assert result["mime_type"] == "application/vnd.apache.parquet"
        assert smk_report.member(path) == (dag_run.workdir / path).read_bytes()
        assert f"<strong>{model_a}</strong>" in result["caption"]
        assert f"<strong>{model_b}</strong>" in result["caption"]
        table_labels.append(labels)
    # One heatmap per table, under the same labels; cross-model lines for pairs of two models.
    heatmaps = [smk_report.results[p]["labels"] for p in smk_report.paths("Similarity", "Heatmaps")]
    assert sorted(map(str, heatmaps)) == sorted(map(str, table_labels))
    lines = [
        smk_report.results[p]["labels"] for p in smk_report.paths("Similarity", "Across models")
    ]
    assert lines and all(label in table_labels for label in lines)
    assert all(label["model A"] != label["model B"] for label in lines)


def test_strata_report_itself_is_the_overview(smk_report, dag_run):
    path = "results/report/index.html"
    assert smk_report.paths("Overview", "strata report") == [path]
    result = smk_report.results[path]
    assert result["mime_type"] == "text/html"  # shown in the report, not offered as download
    assert smk_report.member(path) == (dag_run.workdir / path).read_bytes()
    assert "results/report/index.html" in _text(result["caption"])


@pytest.mark.parametrize(
    "models",
    [("ge2e", "ge2e_twin"), ("wavlm_random", "ecapa_random"), ("a_lines", "b")],
)
def test_figure_patterns_file_every_name_build_writes_once(models):
    """Model and measure names hold underscores; each figure name matches one pattern only."""
    a, b = models
    patterns = [
        re.compile(regex_from_filepattern(p))
        for p in figure_patterns(["utterance", "frame"], ["linear_cka", "linear_cka_debiased"])
    ]
    names = {
        f"probe_{a}.png": {"kind": "probe", "task": a},
        f"usage_{b}.png": {"kind": "usage", "task": b},
        "training_losses.png": {"curves": "losses"},
        f"frame_linear_cka_debiased_{a}__{b}.png": {
            "level": "frame",
            "measure": "linear_cka_debiased",
            "model_a": a,
            "model_b": b,
        },
        f"during__{a}__utterance_linear_cka.png": {
            "series": a,
            "moment": "utterance_linear_cka",
        },
        f"utterance_linear_cka_{a}__{b}_lines.png": {
            "level": "utterance",
            "measure": "linear_cka",
            "model_a": a,
            "model_b": b,
            "view": "lines",
        },
    }
    for name, wildcards in names.items():
        matches = [m.groupdict() for p in patterns if (m := p.match(name))]
        assert matches == [wildcards], name


def test_the_verdicts_best_layers_and_dynamics_tables_are_in_the_zip(smk_report, dag_run):
    names = ("best_layers.csv", "dynamics.csv", "verdicts.csv")  # dynamics: a header, no series
    tables = [f"results/report/{name}" for name in names]
    assert sorted(smk_report.paths("Overview", "Tables")) == tables
    for path in tables:
        assert smk_report.member(path) == (dag_run.workdir / path).read_bytes()
        assert smk_report.results[path]["mime_type"] == "text/csv"
