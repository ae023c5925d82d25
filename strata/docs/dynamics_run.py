"""docs/dynamics.md's account of the series run (configs/dynamics.yaml), every number from its
committed snapshot ``docs/runs/dynamics/`` (``make docs DYNAMICS=<finished run>``)."""

from __future__ import annotations

import re

import pandas as pd

from strata.docs.blocks import Sources, block
from strata.docs.default_run import commit, require
from strata.report.contrasts import best_row

PHONES = "phones"


def best_on_dev(scores: pd.DataFrame) -> pd.DataFrame:
    """Per series, task and checkpoint: the layer best on dev and its test score, beside the
    first and last layers' test scores (checkpoints in the table's training order)."""
    rows = []
    for (name, task, checkpoint), g in scores.groupby(["series", "task", "checkpoint"], sort=False):
        g = g.sort_values("layer_index")
        best = best_row(g, g["model"].iloc[0])  # as the report chooses it
        rows.append({
            "series": name, "task": task, "checkpoint": checkpoint,
            "best layer (dev)": best["layer"], "its test": best["test"],
            "first layer": g["test"].iloc[0], "last layer": g["test"].iloc[-1],
            "layers": len(g),
        })  # fmt: skip
    return pd.DataFrame(rows)


@block("dynamics-run")
def dynamics_run(sources: Sources) -> str:
    run = sources.dynamics_run
    return (
        f"From a fresh clone's run of `configs/dynamics.yaml` at commit `{commit(run)}` "
        f"({run['date']}, {run['cores']} cores, nothing else running): {run['jobs']} jobs, "
        f"**{run['wall_seconds'] / 60:.1f} min** of Snakemake wall time once the environment "
        "was installed (`make setup`)."
    )


@block("dynamics-claims")
def dynamics_claims(sources: Sources) -> str:
    claims = sources.dynamics_claims
    rows = [
        {
            "series": f"`{name}`",
            "claim": claim,
            "over the series": g["statement"].iloc[0],
            "each checkpoint (unadjusted)": "; ".join(
                f"{c}: {o}" for c, o in zip(g["checkpoint"], g["outcome"], strict=True)
            ),
        }
        for (name, claim), g in claims.groupby(["series", "claim"], sort=False)
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


@block("dynamics-phones")
def dynamics_phones(sources: Sources) -> str:
    best = _phones(sources).drop(columns=["task", "layers", "gap"])
    best["series"] = [f"`{s}`" for s in best["series"]]
    best["best layer (dev)"] = [f"`{s}`" for s in best["best layer (dev)"]]
    return best.to_markdown(index=False, floatfmt=".3f")


def _phones(sources: Sources) -> pd.DataFrame:
    """best_on_dev of the phone task, with the last layer's gap to the best (test PER)."""
    best = best_on_dev(sources.dynamics_scores)
    best = best[best["task"] == PHONES].reset_index(drop=True)
    return best.assign(gap=best["last layer"] - best["its test"])


def _outcomes(sources: Sources, series: str) -> dict[str, str]:
    claims = sources.dynamics_claims
    rows = claims[(claims["series"] == series) & claims["claim"].str.startswith(PHONES)]
    return dict(zip(rows["checkpoint"], rows["outcome"], strict=True))


WAVLM = "wavlm_mp_s0"


@block("dynamics-findings")
def dynamics_findings(sources: Sources) -> str:
    phones = _phones(sources)
    return "\n".join([
        _speaker_finding(sources, phones),
        _wavlm_finding(sources, phones[phones["series"] == WAVLM]),
        _similarity_finding(sources),
    ])  # fmt: skip


def _speaker_finding(sources: Sources, phones: pd.DataFrame) -> str:
    speakers = [s for s in phones["series"].unique() if s.startswith("ecapa_")]
    ends = {s: phones[phones["series"] == s].iloc[[0, -1]] for s in speakers}
    outcomes = {s: _outcomes(sources, s) for s in speakers}
    first, last = (
        {s: outcomes[s][e["checkpoint"].iloc[i]] for s, e in ends.items()} for i in (0, -1)
    )
    require(set(first.values()) == {"reproduced"}, "the speaker fade holds at the init")
    require("reproduced" not in last.values(), "the speaker fade is not reproduced at the end")
    require(all(e["gap"].iloc[-1] < e["gap"].iloc[0] for e in ends.values()),
            "training narrows the speaker models' last-layer gap")  # fmt: skip
    require(all(e["best layer (dev)"].iloc[-1] == "seres2net_3" for e in ends.values()),
            "the finals' best phone layer is seres2net_3")  # fmt: skip
    init = next(iter(ends.values())).iloc[0]
    widest = phones[phones["series"].isin(speakers)].sort_values("gap").iloc[-1]
    finals = ", ".join(
        f"`{s}` {e['last layer'].iloc[-1]:.3f} against {e['its test'].iloc[-1]:.3f}"
        for s, e in ends.items()
    )
    return (
        "- **Speaker models: phones fade toward the last frame-level layer already at the "
        f"random init, and training narrows the fade.** At the init (`{init['checkpoint']}`), "
        f"`mfa` decodes phones at PER {init['last layer']:.3f} against {init['its test']:.3f} "
        f"at `{init['best layer (dev)']}`, the best layer on dev, so the claim holds before any "
        "training: it is the architecture's. Training lowers the deep layers' PER most (from "
        f"the init to the last epoch, {_drops(sources, speakers)}). The gap is widest in "
        f"`{widest['series']}` at `{widest['checkpoint']}` ({widest['last layer']:.3f} "
        f"against {widest['its test']:.3f}) and narrower at the last epoch than at the init "
        f"(`mfa` against the best layer: {finals}). The finals' best layer on dev is "
        "`seres2net_3`, the fourth of five, so the claim (best layer in the first half, last "
        "layer worse) is not reproduced at the end of either series."
    )


def _wavlm_finding(sources: Sources, wavlm: pd.DataFrame) -> str:
    held = [c for c, o in _outcomes(sources, WAVLM).items() if o == "reproduced"]
    require(len(held) == 1 and held[0] != wavlm["checkpoint"].iloc[-1],
            "the intermediate peak holds at one in-between checkpoint only")  # fmt: skip
    peak, last = wavlm[wavlm["checkpoint"] == held[0]].iloc[0], wavlm.iloc[-1]
    scores = sources.dynamics_scores
    scores = scores[(scores["task"] == PHONES) & (scores["series"] == WAVLM)]
    per = scores.pivot_table(index="layer_index", columns="at", values="test")
    require(bool((per.iloc[:, -1] < per.iloc[:, 0]).all()), "every wavlm layer learns phones")
    layers = scores.sort_values("layer_index")["layer"].unique()
    delta, low, high = _paired(sources, WAVLM, last["checkpoint"], layers[0])
    require(low <= 0 <= high, "the final's best layer ties its first")
    require(_paired(sources, WAVLM, last["checkpoint"], layers[-1])[2] < 0,
            "the final's last layer is worse than its best")  # fmt: skip
    return (
        "- **Masked prediction: every layer learns phones together, the CNN output included; "
        f"the intermediate peak is transient.** PER falls at every layer, from "
        f"{_span(scores, wavlm['checkpoint'].iloc[0])} at the init to "
        f"{_span(scores, last['checkpoint'])} at the last epoch. Only at `{held[0]}` does the "
        f"best layer on dev (`{peak['best layer (dev)']}`, {peak['its test']:.3f}) beat both "
        f"the first ({peak['first layer']:.3f}) and the last ({peak['last layer']:.3f}) on "
        f"paired tests. At `{last['checkpoint']}` the best, `{last['best layer (dev)']}` "
        f"({last['its test']:.3f}), does not differ from `{layers[0]}` "
        f"({last['first layer']:.3f}; paired Δ {delta:+.3f} [{low:+.3f}, {high:+.3f}]), though "
        f"the last layer ({last['last layer']:.3f}) is worse."
    )


def _paired(sources: Sources, series: str, checkpoint: str, layer: str) -> tuple[float, ...]:
    """The phone claim's paired test (Δ, CI) of a checkpoint's best layer against ``layer``,
    as the claims table records it."""
    claims = sources.dynamics_claims
    row = claims[(claims["series"] == series) & (claims["checkpoint"] == checkpoint)]
    number = r"([+-]\d+\.\d+)"
    found = re.search(rf"/{layer}: Δ {number} \[{number}, {number}\]", row["evidence"].iloc[0])
    require(found is not None, f"{series} {checkpoint} has a paired test against {layer}")
    return tuple(float(x) for x in found.groups())


def _drops(sources: Sources, speakers: list[str]) -> str:
    """Each speaker series' PER drop, init to last epoch, at its first and last layer."""
    scores = sources.dynamics_scores
    parts = []
    for name in speakers:
        rows = scores[(scores["series"] == name) & (scores["task"] == PHONES)]
        per = rows.pivot_table(index="layer_index", columns="at", values="test")
        drop = per.iloc[:, 0] - per.iloc[:, -1]
        require(drop.iloc[-1] > drop.iloc[0], f"{name}: the last layer gains most")
        first, last = rows["layer"].iloc[0], rows.sort_values("layer_index")["layer"].iloc[-1]
        parts.append(f"`{name}`: `{last}` {-drop.iloc[-1]:+.3f}, `{first}` {-drop.iloc[0]:+.3f}")
    return "; ".join(parts)


def _span(scores: pd.DataFrame, checkpoint: str) -> str:
    test = scores.loc[scores["checkpoint"] == checkpoint, "test"]
    return f"{test.min():.3f}–{test.max():.3f}"


def _similarity_finding(sources: Sources) -> str:
    sim = sources.dynamics_similarity
    wavlm = sim[sim["series"] == WAVLM]
    order = list(dict.fromkeys(wavlm["checkpoint"]))
    early = wavlm[wavlm["checkpoint"] == order[1]].set_index("layer")
    require(early["to_final"].iloc[0] > early["to_final"].iloc[-1],
            "wavlm's first layer nears its final form before its last")  # fmt: skip
    finals = {
        s: g[g["checkpoint"] == g["checkpoint"].iloc[-1]].set_index("layer")["to_init"]
        for s, g in sim.groupby("series", sort=False)
        if s.startswith("ecapa_")
    }
    require(all(f.iloc[0] > f.iloc[-1] for f in finals.values()),
            "training moves a speaker model's deep layers furthest from their init")  # fmt: skip
    moved = "; ".join(
        f"`{s}`: `{f.index[0]}` {f.iloc[0]:.2f}, `{f.index[-1]}` {f.iloc[-1]:.2f}"
        for s, f in finals.items()
    )
    return (
        "- **Similarity (debiased linear CKA, each layer to the same layer).** `wavlm_mp`'s "
        f"layers leave their init at once (CKA to the init {early['to_init'].min():.2f}–"
        f"{early['to_init'].max():.2f} after `{order[1]}`), and after "
        f"`{order[1]}` the first layer is nearer its final form than the last (CKA to the final "
        f"{early['to_final'].iloc[0]:.2f} for `{early.index[0]}`, "
        f"{early['to_final'].iloc[-1]:.2f} for `{early.index[-1]}`). Training moves a speaker "
        "model's embedding much further from its init than its first layer (CKA of the final "
        f"to the init, {moved})."
    )
