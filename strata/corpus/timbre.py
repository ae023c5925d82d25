"""Per-speaker voices: a seeded timbre for each generated espeak-ng speaker.

A speaker is its vocal tract and larynx, not its accent: each generated speaker draws, from
its own generator, a sex, a pitch base and range, a vocal-tract scale (all formant frequencies
together, with a small per-formant jitter), formant heights and bandwidths, roughness, flutter,
voicing and breath, and a speaking-rate factor. The accent is drawn per text
(:mod:`strata.corpus.plan`), so accent and speaker are independent. espeak-ng reads a timbre
as a voice *variant* file (``voices/!v/<name>``); :func:`espeak_data` lays out a private data
folder of links to the system's plus the variants, passed to espeak-ng with ``--path``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Draw ranges (Hz, or % of espeak's defaults). Wide enough that a spectral envelope tells
# most speakers apart (a speaker-ID probe on mean log-mel is far above chance), as real voices.
PITCH_BASE = {"female": (150.0, 260.0), "male": (70.0, 150.0)}
PITCH_RANGE = (0.6, 1.6)  # range above the base, as a fraction of it
TRACT_SCALE = {"female": (1.0, 1.3), "male": (0.8, 1.05)}  # formant frequency factor
FORMANT_JITTER = 0.06  # per-formant s.d. around the tract scale
FORMANT_HEIGHT = (0.6, 1.4)
FORMANT_WIDTH = (0.7, 2.0)
RATE = (0.85, 1.15)  # speaking-rate factor (x the style's rate)
SHAPED_FORMANTS = range(1, 6)  # espeak's formants 0 and 6-8 shape little of a voice


@dataclass(frozen=True)
class Timbre:
    """One speaker's voice, as espeak-ng variant settings plus a speaking-rate factor."""

    name: str
    sex: str
    pitch: tuple[int, int]  # base and top, Hz
    formants: tuple[tuple[int, int, int], ...]  # per formant 0-8: frequency, height, width (%)
    roughness: int
    flutter: int
    voicing: int
    breath: tuple[int, ...]  # 8 values; all zero for none
    rate: float

    def variant(self) -> str:
        """The espeak-ng variant file."""
        lines = ["language variant", f"name {self.name}", f"gender {self.sex}"]
        lines.append(f"pitch {self.pitch[0]} {self.pitch[1]}")
        lines += [f"formant {k} {f} {h} {w}" for k, (f, h, w) in enumerate(self.formants)]
        lines += [f"roughness {self.roughness}", f"flutter {self.flutter}"]
        lines += [f"voicing {self.voicing}", "breath " + " ".join(map(str, self.breath))]
        return "\n".join(lines) + "\n"


def draw_timbre(rng: np.random.Generator, name: str) -> Timbre:
    """A timbre from ``rng`` (the speaker's own generator)."""
    sex = "female" if rng.random() < 0.5 else "male"
    base = rng.uniform(*PITCH_BASE[sex])
    top = base * (1 + rng.uniform(*PITCH_RANGE))
    scale = rng.uniform(*TRACT_SCALE[sex])
    formants = []
    for k in range(9):
        if k in SHAPED_FORMANTS:
            freq = 100 * scale * (1 + rng.normal(0, FORMANT_JITTER))
            formants.append(
                (
                    round(freq),
                    round(100 * rng.uniform(*FORMANT_HEIGHT)),
                    round(100 * rng.uniform(*FORMANT_WIDTH)),
                )
            )
        else:
            formants.append((100, 100, 100))
    breathy = rng.random() < 0.4
    breath = tuple(int(b) for b in rng.integers(0, 4, 8)) if breathy else (0,) * 8
    return Timbre(
        name=name,
        sex=sex,
        pitch=(round(base), round(top)),
        formants=tuple(formants),
        roughness=int(rng.integers(0, 5)),
        flutter=int(rng.integers(0, 20)),
        voicing=int(rng.integers(70, 150)),
        breath=breath,
        rate=float(rng.uniform(*RATE)),
    )


def system_data() -> Path:
    """The installed espeak-ng's data folder (``espeak-ng --version`` names it)."""
    out = subprocess.run(
        ["espeak-ng", "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    found = re.search(r"Data at:\s*(\S+)", out)
    if found is None:
        raise RuntimeError(f"cannot find espeak-ng's data folder in {out!r}")
    return Path(found.group(1))


def _link_all(source: Path, target: Path, skip: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in os.listdir(source):
        if entry != skip:
            (target / entry).symlink_to(source / entry)


@contextmanager
def espeak_data(timbres: Sequence[Timbre]) -> Iterator[Path | None]:
    """A temporary ``--path`` folder: the system's data with ``timbres`` among its variants
    (the system's own variants stay, so fixed voices like ``en-us+m1`` still resolve; espeak-ng
    lists at most 349 voices, ~230 of them its own, so pass a few timbres at a time). None
    when there are no timbres (espeak-ng then reads its own data)."""
    if not timbres:
        yield None
        return
    system = system_data()
    with tempfile.TemporaryDirectory(prefix="strata-espeak-") as tmp:
        data = Path(tmp) / "espeak-ng-data"
        _link_all(system, data, skip="voices")
        _link_all(system / "voices", data / "voices", skip="!v")
        _link_all(system / "voices" / "!v", data / "voices" / "!v", skip="")
        for timbre in timbres:
            (data / "voices" / "!v" / timbre.name).write_text(timbre.variant())
        yield Path(tmp)
