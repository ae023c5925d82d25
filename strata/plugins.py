"""Code named by import path (``package.module:name``): a registry entry's behaviour (a task
kind's fitting, imported only when a probe runs, so the registries stay light at Snakefile parse
time) and a user's own encoder, measure or dataset kind named in a config, without forking."""

from __future__ import annotations

import importlib
import re
from typing import Any

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_import_path(text: str) -> bool:
    """Whether ``text`` names code (``package.module:name``) rather than a registered entry."""
    return bool(IMPORT_PATH.match(text))


def file_stem(name: str) -> str:
    """A registered name as it is; an import path with ``.`` for ``:`` (file names, wildcards)."""
    return name.replace(":", ".")


def _where(module_name: str, error: ImportError) -> str:
    """What to do: the package itself not found, or something it imports."""
    top = module_name.split(".")[0]
    missing = getattr(error, "name", None) or ""
    if missing and missing.split(".")[0] != top:
        return f"{module_name!r} was found but imports {missing!r}: install it in this environment"
    return (
        f"{top!r} must be importable wherever the workflow runs: `pip install -e <your package>` "
        f"in strata's environment (envs/*.yaml too, with --use-conda), or `export PYTHONPATH="
        f"<folder holding {top}>` before snakemake (SLURM jobs inherit the submitting shell's "
        "environment; docs/extending.md)"
    )


def load_object(path: str, what: str = "code") -> Any:
    """The object ``package.module:name`` names (``name`` may be dotted: ``Class.method``);
    errors say which path, for what, and why it did not load."""
    if not is_import_path(path):
        raise ValueError(f"{what} {path!r}: expected an import path 'package.module:name'")
    module_name, attribute = path.split(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        hint = _where(module_name, error)
        message = f"{what} {path!r}: cannot import {module_name!r} ({error}); {hint}"
        raise ImportError(message) from error
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ImportError(f"{what} {path!r}: {module_name!r} has no {attribute!r}") from None
    return found
