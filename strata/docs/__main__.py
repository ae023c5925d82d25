"""``python -m strata.docs`` (``make docs``): rewrite every generated block of the README and
docs/ from the committed sources; ``--snapshot WORKDIR`` first replaces the run snapshot with a
finished default run's and runs the docs' Python examples in it, ``--dynamics WORKDIR`` the
series snapshot with a finished run of configs/dynamics.yaml; ``--check`` writes nothing and
fails when a block is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import strata.docs.committed  # noqa: F401  (registers its blocks)
import strata.docs.default_run  # noqa: F401
import strata.docs.dynamics_run  # noqa: F401
from strata.docs.blocks import Sources, stale, write
from strata.docs.examples import run_examples
from strata.docs.snapshot import EXAMPLES, take_dynamics_snapshot, take_snapshot
from strata.io import write_json

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strata.docs", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to document")
    parser.add_argument("--snapshot", type=Path, metavar="WORKDIR", help="a finished default run")
    parser.add_argument(
        "--dynamics", type=Path, metavar="WORKDIR", help="a finished configs/dynamics.yaml run"
    )
    parser.add_argument("--check", action="store_true", help="fail if a block is stale")
    args = parser.parse_args(argv)
    if args.check:
        files = stale(args.root)
        for name in files:
            print(f"{name}: generated blocks differ from `make docs`", file=sys.stderr)
        return 1 if files else 0
    if args.snapshot:
        dest = args.root / "docs" / "runs" / "default"
        facts = take_snapshot(args.snapshot, dest)
        write_json(dest / EXAMPLES, run_examples(args.root, args.snapshot))
        print(f"snapshot of {args.snapshot}: {facts}; the docs' Python examples ran in it")
    if args.dynamics:
        facts = take_dynamics_snapshot(args.dynamics, Sources(args.root).dynamics)
        print(f"snapshot of {args.dynamics}: {facts}")
    for name in write(args.root):
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
