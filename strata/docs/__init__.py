"""The numbers in the README and docs/, written by ``make docs`` (``python -m strata.docs``).

Each generated passage sits between ``<!-- make docs: NAME -->`` and ``<!-- end make docs:
NAME -->`` in a Markdown file and is rendered by the function registered as ``NAME`` in
:data:`strata.docs.blocks.BLOCKS`, from committed sources only: the snapshot of a finished run
(``docs/runs/default/``, taken by ``python -m strata.docs --snapshot WORKDIR``), the shipped
checkpoints and the planner. ``python -m strata.docs --check`` (a test) fails on any block that
differs from what its function writes.
"""
