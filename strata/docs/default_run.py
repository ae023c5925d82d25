"""The README's account of the default run, every number from the committed run snapshot.

The prose states reasons; :func:`require` stops ``make docs`` when a new run no longer bears a
sentence out, so the sentence is rewritten rather than left false."""

from __future__ import annotations

import pandas as pd

from strata.docs.blocks import Sources, block
from strata.report.results import family_of, results_markdown_from

LOWER_IS_BETTER = {"per", "eer"}


def require(condition: bool, sentence: str) -> None:
    if not condition:
        raise ValueError(f"the run snapshot no longer supports: {sentence!r}; rewrite it")


def family_means(sources: Sources) -> pd.Series:
    """(family, task) → mean over seeds of the best-on-dev layer's test score."""
    best = sources.best.assign(family=[family_of(m)[0] for m in sources.best["model"]])
    return best.groupby(["family", "task"])["test"].mean()


def seeds_reproduced(sources: Sources, claim_start: str) -> tuple[int, int]:
    """(seeds whose adjusted verdict is reproduced, seeds) for the one claim so named."""
    rows = sources.verdicts[sources.verdicts["claim"].str.startswith(claim_start)]
    require(rows["claim"].nunique() == 1, f"one claim starts with {claim_start!r}")
    seeds = rows.drop_duplicates("seed")
    return int((seeds["seed_adjusted"] == "reproduced").sum()), len(seeds)


def commit(run: dict) -> str:
    """The commit of a snapshot's ``run.json`` (its code version is ``<version>+<commit>``)."""
    return run["code_version"].split("+")[1]


@block("default-run")
def default_run(sources: Sources) -> str:
    run = sources.run
    return (
        f"From a fresh clone's `make run` of commit `{commit(run)}` ({run['date']}, "
        f"{run['cores']} cores, nothing else running): {run['jobs']} jobs, "
        f"**{run['wall_seconds'] / 60:.1f} min** of Snakemake wall time once the environment "
        "was installed."
    )


@block("results")
def results(sources: Sources) -> str:
    probes = sources.probes
    return "\n".join([
        results_markdown_from(sources.best, sources.verdicts),
        "",
        f"{int(probes['at_cap'].sum())} of the run's {len(probes)} single-layer probes ended "
        "at their epoch cap while still improving; the report names them.",
    ])  # fmt: skip


def cnn_gap(layers: pd.DataFrame) -> float:
    """The largest, over models, of layer_00's test score minus the model's best."""
    by_model = layers.groupby("model")
    gaps = by_model.apply(
        lambda g: g.loc[g["layer"] == "layer_00", "test"].iloc[0] - g["test"].min()
    )
    return float(gaps.max())


@block("findings")
def findings(sources: Sources) -> str:
    mean = family_means(sources).round(3)
    intent = {f: mean[f, "intent"] for f in ("wavlm_mp", "ecapa_dino", "ecapa_aam", "ge2e")}
    require(intent["wavlm_mp"] > max(v for f, v in intent.items() if f != "wavlm_mp"),
            "wavlm_mp wins on intents")  # fmt: skip
    require(mean["wavlm_mp", "keyword"] < mean["ecapa_aam", "keyword"],
            "ecapa_aam beats wavlm_mp on keywords")  # fmt: skip
    fade = {f: seeds_reproduced(sources, f"{f} (speaker model): phone") for f in ("ecapa_aam",
            "ecapa_dino")}  # fmt: skip
    peak = seeds_reproduced(sources, "wavlm_mp (speech SSL): phones peak")
    phones = sources.probes[sources.probes["task"] == "phones"]
    wavlm = phones[phones["model"].str.startswith("wavlm_mp_")]
    ecapa_best = sources.best[(sources.best["task"] == "phones")
                              & sources.best["model"].str.match(r"ecapa_(dino|aam)_s")]  # fmt: skip
    layers = ecapa_best["best layer"].value_counts()
    return "\n".join([
        f"- **Speech SSL does not beat the speaker models on every content task here.** "
        f"`wavlm_mp` wins on intents ({intent['wavlm_mp']:.3f} against "
        f"{intent['ecapa_dino']:.3f} for `ecapa_dino`, {intent['ecapa_aam']:.3f} for "
        f"`ecapa_aam`, {intent['ge2e']:.3f} for GE2E) but not on phones, where it decodes about "
        f"as well as `ecapa_dino` (PER {mean['wavlm_mp', 'phones']:.3f} against "
        f"{mean['ecapa_dino', 'phones']:.3f}), nor on keywords against `ecapa_aam` "
        f"({mean['wavlm_mp', 'keyword']:.3f} against {mean['ecapa_aam', 'keyword']:.3f}). "
        f"A random ECAPA-TDNN already decodes phones at PER {mean['ecapa_random', 'phones']:.3f}: "
        "its filters over the mel spectrum keep much of what phones need.",
        f"- **Phones fading in deep speaker layers** holds for GE2E, for {fade['ecapa_aam'][0]} "
        f"of {fade['ecapa_aam'][1]} seeds of `ecapa_aam` and {fade['ecapa_dino'][0]} of "
        f"{fade['ecapa_dino'][1]} of `ecapa_dino`. The miniature ECAPA-TDNNs' best phone layer "
        "on dev, over their seeds: "
        + ", ".join(f"`{layer}` {n}×" for layer, n in layers.items())
        + " (of five frame-level layers; `mfa` is the last).",
        f"- **Phones peaking in intermediate `wavlm_mp` layers** holds for {peak[0]} seed(s) of "
        f"{peak[1]}. Over the seeds, every layer's test PER lies between "
        f"{wavlm['test'].min():.3f} and {wavlm['test'].max():.3f}, and the CNN output "
        f"(`layer_00`) is within {cnn_gap(wavlm):.3f} of each seed's lowest.",
    ])  # fmt: skip


def outcome(row: pd.Series, lower_is_better: bool | None) -> str:
    """How one paired comparison reads after Holm: settled, within noise, holds or reversed."""
    if isinstance(row["settled"], str):
        return row["settled"]
    if row["p_holm"] >= 0.05:
        return "within noise"
    if lower_is_better is None:
        return "holds"
    return "holds" if (row["delta"] < 0) == lower_is_better else "reversed"


@block("comparisons")
def comparisons(sources: Sources) -> str:
    """Every paired comparison behind a claim some seed does not reproduce."""
    metric = dict(zip(sources.best["task"], sources.best["metric"], strict=False))
    verdicts = sources.verdicts
    shaky = verdicts.groupby("claim", sort=False)["seed_adjusted"].transform(
        lambda s: (s.fillna(verdicts.loc[s.index, "adjusted"]) != "reproduced").any()
    )
    rows = []
    for _, row in verdicts[shaky].iterrows():
        task = row["comparison"].split(":")[0]
        lower = metric[task] in LOWER_IS_BETTER if task in metric else None
        interval = "" if pd.isna(row["delta"]) else (
            f"{row['delta']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]")  # fmt: skip
        rows.append({
            "claim": row["claim"], "seed": row["seed"] if isinstance(row["seed"], str) else "",
            "comparison": row["comparison"], "Δ [95 % CI]": interval,
            "p (Holm)": "" if pd.isna(row["p_holm"]) else f"{row['p_holm']:.2g}",
            "reads": outcome(row, lower),
        })  # fmt: skip
    return pd.DataFrame(rows).to_markdown(index=False)
