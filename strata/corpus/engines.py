"""TTS engines behind one interface: availability checks and batch synthesis to WAV."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from strata.corpus.config import CorpusConfig, Voice, parse_config
from strata.schema import ConfigError

BINARIES = {"espeak": "espeak-ng", "flite": "flite", "festival": "festival"}
APT_PACKAGES = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "festival"}
FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")
FESTIVAL_VOICE_PACKAGES = {
    "kal_diphone": "festvox-kallpc16k",
    "ked_diphone": "festvox-kdlpc16k",
    "cmu_us_slt_arctic_hts": "festvox-us-slt-hts",
}
ESPEAK_WPM = 175  # espeak-ng's default speaking rate
ESPEAK_MIN_WPM = 80  # espeak-ng silently speaks any slower request at 80 wpm
TIMEOUT_S = 300


class MissingVoiceError(RuntimeError):
    """A TTS binary or voice the config names is not installed."""


@dataclass(frozen=True)
class SynthRequest:
    text: str
    stretch: float  # >1 is slower speech
    wav: Path
    voice: str  # the engine's voice argument (espeak-ng: language+variant)


def _which(engine: str) -> str:
    binary = BINARIES[engine]
    path = shutil.which(binary)
    if path is None:
        raise MissingVoiceError(
            f"{binary} not found on PATH: install it with `apt-get install {APT_PACKAGES[binary]}`"
        )
    return path


def _listing(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


@cache
def espeak_voice_names() -> frozenset[str]:
    """Lower-case names espeak-ng accepts for a base voice (language, name, file, aliases)."""
    names: set[str] = set()
    for line in _listing("espeak-ng", "--voices").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            names |= {cols[1], cols[3], cols[4], cols[4].rsplit("/", 1)[-1]}
            names |= set(re.findall(r"\(([^ )]+)", line))
    return frozenset(n.lower() for n in names)


@cache
def espeak_variant_names() -> frozenset[str]:
    names: set[str] = set()
    for line in _listing("espeak-ng", "--voices=variant").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            names |= {cols[3], cols[-1].rsplit("/", 1)[-1]}
    return frozenset(n.lower() for n in names)


@cache
def flite_voice_names() -> frozenset[str]:
    # `flite -lv` prints "Voices available: kal awb ..." on stdout.
    return frozenset(_listing("flite", "-lv").split(":", 1)[-1].split())


def _check_espeak(name: str) -> None:
    # espeak-ng silently falls back to the base voice for an unknown "+variant", so check both.
    base, _, variant = name.partition("+")
    if base.lower() not in espeak_voice_names():
        raise MissingVoiceError(f"espeak-ng voice {base!r} not found (see `espeak-ng --voices`)")
    if variant and variant.lower() not in espeak_variant_names():
        raise MissingVoiceError(
            f"espeak-ng variant {variant!r} not found (see `espeak-ng --voices=variant`)"
        )


def _check_flite(name: str) -> None:
    if name not in flite_voice_names():
        raise MissingVoiceError(f"flite voice {name!r} not built in (see `flite -lv`)")


def _check_festival(name: str) -> None:
    if not any(FESTIVAL_VOICE_ROOT.glob(f"*/{name}")):
        package = FESTIVAL_VOICE_PACKAGES.get(name, "the festvox-* package that provides it")
        raise MissingVoiceError(
            f"festival voice {name!r} not found under {FESTIVAL_VOICE_ROOT}: "
            f"install it with `apt-get install {package}`"
        )


_VOICE_CHECKS = {"espeak": _check_espeak, "flite": _check_flite, "festival": _check_festival}


def check_voice(voice: Voice) -> None:
    """A fixed voice must be installed (a generated timbre is written at build time)."""
    _which(voice.engine)
    if voice.timbre is None:
        _VOICE_CHECKS[voice.engine](voice.voice)


def check_voices(cfg: Mapping[str, Any] | CorpusConfig) -> None:
    """Raise MissingVoiceError naming the apt package for the first missing binary or voice."""
    config = cfg if isinstance(cfg, CorpusConfig) else parse_config(cfg)
    for engine in sorted({v.engine for v in config.voices}):
        _which(engine)  # binaries first: the clearest fix when a whole engine is absent
    for voice in config.voices:
        check_voice(voice)
    if any(v.timbre is not None for v in config.voices):
        for accent in config.accents:
            _check_espeak(accent)


def espeak_wpm(stretch: float) -> int:
    return round(ESPEAK_WPM / stretch)


def check_styles(config: CorpusConfig) -> None:
    """Every style is one the configured engines can honour (none is silently clamped)."""
    if not any(v.engine == "espeak" for v in config.voices):
        return
    # The slowest generated speaker stretches every style further.
    slowest = min((v.timbre.rate for v in config.voices if v.timbre), default=1.0)
    for style in config.styles:
        if espeak_wpm(style.stretch / min(slowest, 1.0)) < ESPEAK_MIN_WPM:
            raise ConfigError(
                f"styles.{style.name}",
                f"rate/pitch = {style.rate / style.pitch:.3g} asks espeak-ng for "
                f"{espeak_wpm(style.stretch)} wpm, below its minimum {ESPEAK_MIN_WPM} "
                f"(rate/pitch must be >= {ESPEAK_MIN_WPM / ESPEAK_WPM:.3g})",
            )


def _stretch_str(stretch: float) -> str:
    return f"{stretch:.6g}"


def espeak_command(req: SynthRequest, data: Path | None = None) -> list[str]:
    """``data``: a private data folder (:func:`strata.corpus.timbre.espeak_data`)."""
    wpm = espeak_wpm(req.stretch)
    path = [f"--path={data}"] if data else []
    return ["espeak-ng", *path, "-v", req.voice, "-s", str(wpm), "-w", str(req.wav), req.text]


def flite_command(req: SynthRequest, data: Path | None = None) -> list[str]:
    stretch = f"duration_stretch={_stretch_str(req.stretch)}"
    return ["flite", "-voice", req.voice, "--setf", stretch, "-t", req.text, "-o", str(req.wav)]


def _scheme_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_script(requests: Sequence[SynthRequest]) -> str:
    """Scheme that synthesises all ``requests`` (one voice) in one process (voice loading
    dominates cost)."""
    # HTS voices ignore Duration_Stretch; hts_engine's "-r" speed (1/stretch) does the same job.
    lines = [
        f"(voice_{requests[0].voice})",
        "(defvar strata_hts (if (boundp 'hts_engine_params) hts_engine_params nil))",
    ]
    for req in requests:
        stretch = _stretch_str(req.stretch)
        lines += [
            f"(Parameter.set 'Duration_Stretch {stretch})",
            "(if (boundp 'hts_engine_params) (set! hts_engine_params"
            f' (append strata_hts (list (list "-r" (/ 1.0 {stretch}))))))',
            f"(utt.save.wave (utt.synth (Utterance Text {_scheme_str(req.text)}))"
            f" {_scheme_str(str(req.wav))} 'riff)",
        ]
    return "\n".join(lines) + "\n"


def _run(command: Sequence[str]) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({proc.returncode}): {proc.stderr.strip()}")


def _check_outputs(engine: str, requests: Sequence[SynthRequest]) -> None:
    # Festival reports Scheme errors on stderr but may still exit 0, so trust only the files.
    for req in requests:
        if not req.wav.is_file() or req.wav.stat().st_size <= 44:
            raise RuntimeError(f"{engine} voice {req.voice!r} wrote no audio for {req.text!r}")


def synthesise(engine: str, requests: Sequence[SynthRequest], data: Path | None = None) -> None:
    """Write one WAV per request at the engine's native sample rate; ``data`` is espeak-ng's
    private data folder when the requests use generated timbres."""
    if engine == "festival":
        with tempfile.TemporaryDirectory(prefix="strata-festival-") as tmp:
            script = Path(tmp) / "batch.scm"
            script.write_text(festival_script(requests))
            _run(["festival", "-b", str(script)])
    else:
        command = espeak_command if engine == "espeak" else flite_command
        for req in requests:
            _run(command(req, data))
    _check_outputs(engine, requests)
