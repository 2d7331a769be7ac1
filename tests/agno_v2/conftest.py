"""Tests of `PagbankDb` and `AsyncPagbankDb`, the storage for Agno 2.x and 3.x.

The folder needs Agno 2 or 3 (`agno.db`, `agno.session`): under Agno 1.7 pytest does not collect
it at all (collect_ignore_glob, decided by the installed Agno's major version), and the 1.7
tests of tests/ stay where they are. Every test here runs against a real server.
"""

from importlib.metadata import version

AGNO_MAJOR = int(version("agno").split(".")[0])

if AGNO_MAJOR < 2:
    collect_ignore_glob = ["test_*.py"]
else:
    from .backends import backend, own_backend, sync_backend  # noqa: F401  (fixtures)

    if AGNO_MAJOR < 3:
        collect_ignore = ["test_runs.py"]  # upsert_run and runs_limit are Agno 3's
