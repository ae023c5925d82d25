"""The docs' code blocks: found by language, and the Python ones run in a finished default run.

``make docs RUN=<dir>`` runs every Python block of the README and docs/ (bar extending.md's,
which are excerpts of files the tests run) with the run directory as working directory, and
records each block's digest in the snapshot; a test fails on a block whose digest is missing,
that is, one edited or added since it last ran against a real run."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.M | re.S)
# Excerpts of files under tests/extension/, held to those files by tests/test_extending_doc.py.
EXCERPTS = {"docs/extending.md"}


@dataclass(frozen=True)
class Block:
    file: str  # relative to the checkout
    lang: str
    body: str
    line: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()[:16]


def code_blocks(root: Path) -> list[Block]:
    from strata.docs.blocks import documents

    blocks = []
    for path in documents(root):
        text, name = path.read_text(), str(path.relative_to(root))
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append(Block(name, match["lang"], match["body"], line))
    return blocks


def runnable_python(root: Path) -> list[Block]:
    return [b for b in code_blocks(root) if b.lang == "python" and b.file not in EXCERPTS]


def run_python(block: Block, workdir: Path) -> None:
    """Run one block in a fresh interpreter in ``workdir``; a failure names the block."""
    proc = subprocess.run(
        [sys.executable, "-c", block.body], cwd=workdir, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{block.file}:{block.line}: example failed in {workdir}:\n{proc.stderr}"
        )


def run_examples(root: Path, workdir: Path) -> dict[str, str]:
    """Digest → ``file:line`` of every runnable Python block, each run in ``workdir``."""
    ran = {}
    for block in runnable_python(root):
        run_python(block, workdir)
        ran[block.digest] = f"{block.file}:{block.line}"
    return ran
