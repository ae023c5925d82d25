"""Resource functions: memory bounded by the buffer for frame-level probes, linear in what is
held otherwise; the figures docs/scale.md states for known shapes."""

import ast
import re
from pathlib import Path

import pytest

from strata.plan import resources as r

ROOT = Path(__file__).resolve().parents[2]


def test_a_ctc_probe_is_flat_in_frames_once_they_outgrow_the_buffer():
    base = dict(dims=[768], buffer_mb=2048, batch_size=32, longest=1750)
    one_hour, hundred = 3600 * 50, 100 * 3600 * 50
    assert r.ctc_probe_mb(frames=hundred, **base) == r.ctc_probe_mb(frames=10 * hundred, **base)
    small = r.ctc_probe_mb(frames=one_hour // 100, **base)
    assert small < r.ctc_probe_mb(frames=one_hour, **base) < r.ctc_probe_mb(frames=hundred, **base)


def test_held_data_grows_linearly():
    a, b = (r.utterance_probe_mb(n, [768] * 13, 1.5) for n in (10_000, 20_000))
    assert b - a == pytest.approx(a - r.utterance_probe_mb(0, [768] * 13, 1.5), abs=1)
    assert r.similarity_mb(2000, [768], [768]) < r.similarity_mb(4000, [768], [768])


def test_docs_scale_states_the_figures_the_functions_give():
    """Every row of docs/scale.md's table of known shapes is what the function returns."""
    text = (ROOT / "docs" / "scale.md").read_text()
    rows = re.findall(r"^\| `(\w+)\((.*?)\)` \| ([\d,]+) \|", text, re.M)
    assert len(rows) >= 4
    for name, args, mib in rows:
        call = ast.parse(f"f({args})", mode="eval").body
        kwargs = {k.arg: _literal(k.value) for k in call.keywords}
        assert getattr(r, name)(**kwargs) == int(mib.replace(",", "")), (name, args)


def _literal(node: ast.expr):
    """A literal, or ``[x] * n`` (how the docs write a model's widths)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _literal(node.left) * _literal(node.right)
    return ast.literal_eval(node)
