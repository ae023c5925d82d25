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


def load_object(path: str, what: str = "code") -> Any:
    """The object ``package.module:name`` names (``name`` may be dotted: ``Class.method``);
    errors say which path, for what, and why it did not load."""
    if not is_import_path(path):
        raise ValueError(f"{what} {path!r}: expected an import path 'package.module:name'")
    module_name, attribute = path.split(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"{what} {path!r}: cannot import {module_name!r} ({error})") from error
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ImportError(f"{what} {path!r}: {module_name!r} has no {attribute!r}") from None
    return found
