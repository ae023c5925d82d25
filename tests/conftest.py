"""Suite-wide: keep Hypothesis working beside speechbrain."""

from __future__ import annotations

import pytest
from lazy_modules import drop_unimportable_lazy_modules


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems() -> None:
    # Hypothesis's plugin scans sys.modules in this hook, after every test module is imported.
    drop_unimportable_lazy_modules()
