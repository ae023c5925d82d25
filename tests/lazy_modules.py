"""speechbrain and Hypothesis side by side (imported by tests/conftest.py and property tests)."""

from __future__ import annotations

import sys
import warnings


def drop_unimportable_lazy_modules() -> None:
    """speechbrain leaves lazy placeholders for optional integrations it cannot import (k2) in
    sys.modules, and Hypothesis reads ``__file__`` of every module it has not seen; on these
    that raises ImportError. Dropping them changes nothing: importing them fails anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # speechbrain's deprecation redirects, touched here
        for name, module in list(sys.modules.items()):
            try:
                getattr(module, "__file__", None)
            except ImportError:
                del sys.modules[name]
