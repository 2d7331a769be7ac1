"""The internal statement areas (the sub-folders of `sql/queries`: agno, lgpd, schema,
topology, transfer): one area's statements run on a database's pool, on a transaction, or on a
connection held outside any pool, like sqlc's `New(db)`. They are not part of `db.queries`.

Call sites use the typed accessor of an area, generated into `types.py`
(`schema_queries(conn)`, `agno_queries(db)`, ...); this module is what they return.
"""

from typing import Any

import psycopg

from . import database, database_async
from .base import DatabaseBase, QueryNamespace, TransactionBase
from .loader import internal_queries


def area_queries(on: Any, area: str) -> QueryNamespace:
    """The statements of `area`, run on `on`: a Database or AsyncDatabase (each call alone, on
    a pooled connection), a Transaction or AsyncTransaction (in it), or a psycopg connection
    with dict rows (on it, in whatever transaction state it is in)."""
    if isinstance(on, DatabaseBase | TransactionBase):
        runner = on._runner
    elif isinstance(on, psycopg.AsyncConnection):
        runner = database_async._ConnectionRunner(on)
    elif isinstance(on, psycopg.Connection):
        runner = database._ConnectionRunner(on)
    else:
        raise TypeError(
            f"statements of {area!r} run on a database, a transaction or a psycopg connection; "
            f"got {type(on).__name__}"
        )
    return QueryNamespace(internal_queries(area), runner)
