"""Put this checkout's ``strata`` first on sys.path.

Rule scripts run in .venv (where strata is installed editable), but also in per-rule conda envs
(``--sdm conda``) and on cluster nodes, where only this directory is on sys.path.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
