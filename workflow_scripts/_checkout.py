"""Put this checkout's ``strata`` first on sys.path.

Rule scripts run in .venv (where strata is installed editable), but also in per-rule conda envs
(``--sdm conda``) and on cluster nodes, where only this directory is on sys.path.
"""

import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# A job's math libraries get the threads it was scheduled with. Snakemake sets these for
# shell: rules only; in a script BLAS starts a thread per core, which spins beside the other
# jobs (measured: a CKA job's second thread took a core's worth of CPU doing nothing).
_job = getattr(sys.modules["__main__"], "snakemake", None)
if _job is not None:
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = str(_job.threads)
