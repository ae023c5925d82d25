"""What a run's artifacts hold, less where they were made: for comparing two runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from safetensors import safe_open

from strata.provenance import SCHEDULER_KEYS
from strata.training import LOSSES

WHERE = set(SCHEDULER_KEYS.values())  # the SLURM job id and node
# Training's own clocks, which no two runs share: its summary's seconds, its loss table's
# per-step seconds and the report's training minutes (from those).
CLOCKS = {"seconds_this_run"}
CLOCK_COLUMN, CLOCK_HEADER = "seconds", "minutes"


def scrub(obj: Any) -> Any:
    """``obj`` without the keys that name the batch job or time the run, at any depth."""
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items() if k not in WHERE | CLOCKS}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def jobs_named(obj: Any) -> list[str]:
    """Every SLURM job id ``obj`` records, at any depth."""
    if isinstance(obj, dict):
        own = [obj["slurm_job_id"]] if "slurm_job_id" in obj else []
        return own + [j for v in obj.values() for j in jobs_named(v)]
    return []


def as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def metadata(path: Path) -> Any:
    """The provenance an artifact carries (Parquet metadata, JSON, safetensors header)."""
    if path.suffix == ".parquet":
        raw = pq.read_schema(path).metadata or {}
        return {k.decode(): as_json(v.decode()) for k, v in raw.items() if k != b"pandas"}
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".safetensors":
        with safe_open(str(path), "np") as f:
            return {k: as_json(v) for k, v in (f.metadata() or {}).items()}
    return None


def content(path: Path) -> Any:
    """The data of an artifact: tables without schema metadata, tensors, or raw bytes."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        if path.name == LOSSES:
            table = table.drop_columns([CLOCK_COLUMN])
        return table.replace_schema_metadata(None).to_pydict()
    if path.suffix == ".safetensors":
        with safe_open(str(path), "np") as f:
            return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    if path.suffix == ".json":
        return None  # all of it is in metadata()
    if path.suffix == ".html":
        return without_clocks(path.read_text())
    return path.read_bytes()


def without_clocks(html: str) -> str:
    """The report with its training table's minutes blanked (each run's own clock)."""
    start = html.find('id="training"')
    if start < 0:
        return html
    end = html.index("</table>", start)
    table = html[start:end]
    column = re.findall(r"<th>(.*?)</th>", table).index(CLOCK_HEADER)

    def blank(row: re.Match) -> str:
        cells = row[0].split("<td>")
        if len(cells) > column + 1:  # a body row (the header's cells are <th>)
            cells[column + 1] = re.sub(r"^.*?</td>", "</td>", cells[column + 1], flags=re.S)
        return "<td>".join(cells)

    return html[:start] + re.sub(r"<tr.*?</tr>", blank, table, flags=re.S) + html[end:]


def results(workdir: Path) -> list[Path]:
    return sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("*") if p.is_file())


def assert_same_results(a: Path, b: Path) -> None:
    """The same artifacts, holding the same data and provenance, bar where jobs ran."""
    assert results(a) == results(b)
    for path in results(a):
        assert scrub(metadata(a / path)) == scrub(metadata(b / path)), path
        x, y = content(a / path), content(b / path)
        if isinstance(x, dict) and path.suffix == ".safetensors":
            assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x), path
        else:
            assert x == y, path
