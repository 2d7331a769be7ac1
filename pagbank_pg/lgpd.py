"""LGPD (Brazil's data-protection law): export everything held about a user, and erase a user
so that it stays erased.

`forget_user` works in two steps. First it records the user and its sessions as erased
(keyed hashes in `erased_ids`, committed at once): from then on the `keep_erased_out` triggers
drop any row of theirs that a re-import, a dual write or an app replica in flight would
write. Then, in one transaction, it takes the locks of that user and of its sessions (the
writers in flight of those, and only those, are waited for: no other customer waits) and
deletes every row. What erasure cannot reach is outside PostgreSQL: `REACH` says so, and the
CLI prints it.

`export_user` streams: one table after another, one row at a time (COPY), into a file.
"""

from typing import IO, Any

from .config import ERASURE_LOCK_TIMEOUT
from .errors import ErasureIncomplete, NothingToErase, QueryError
from .query import Database, load_queries
from .query.base import translated

REACH = (
    "erasure reaches PostgreSQL only: this user's data may still be in the app's SQLite files, "
    "in files written by export-sqlite or export-user, in import reject files and in backups; "
    "delete it there too (a re-import of those SQLite files passes the user over)"
)

_GAVE_UP = ("55P03", "40P01")  # lock_not_available (the lock timeout), deadlock_detected

# The export's lists, in the document's order, and the statement streaming each.
EXPORTED = (
    ("user_sessions", "export_user_sessions"),
    ("team_sessions", "export_user_team_sessions"),
    ("agent_sessions", "export_user_agent_sessions"),
    ("user_memories", "export_user_memories"),
    ("escalation_history", "export_user_escalations"),
    ("interaction_patterns", "export_user_patterns"),
)


def forget_user(
    db: Database,
    user_id: str,
    *,
    record_anyway: bool = False,
    lock_timeout: float = ERASURE_LOCK_TIMEOUT,
) -> dict[str, Any]:
    """Erase `user_id` from the six tables and keep it out; how many rows each table lost
    (empty: it was erased before, and nothing of it is left).

    An id with no row is refused (NothingToErase: a typo would otherwise erase no one and
    drop that id's writes for good) unless `record_anyway`. ErasureIncomplete when a writer
    of the user holds its rows past `lock_timeout` seconds: run it again."""
    held = db.queries.held_about_user(user_id=user_id)
    if held == "erased":
        return {}  # erased before, and nothing of it is left
    if held == "nothing" and not record_anyway:
        raise NothingToErase(
            f"nothing found for user {user_id!r}: no row of the six tables holds this id "
            "(a typo?); nothing was erased or recorded. To record the erasure anyway, so that "
            "no row of this id is ever written, pass --record-anyway"
        )
    db.queries.record_erasure(user_id=user_id)
    try:
        with db.transaction() as tx:
            tx.queries.lock_for_erasure(
                user_id=user_id, lock_timeout=f"{lock_timeout * 1000:.0f}ms"
            )
            tx.queries.record_erasure(user_id=user_id)  # sessions begun meanwhile
            removed = tx.queries.forget_user(user_id=user_id)
    except QueryError as error:
        if error.sqlstate not in _GAVE_UP:
            raise
        raise ErasureIncomplete(
            f"the erasure of user {user_id!r} is incomplete: a writer of this user held its "
            f"rows for over {lock_timeout:g} s ({error}); the user is recorded as erased, so no "
            "new row of it is written, but its rows are still there. Run the same command "
            "again to finish the erasure"
        ) from error
    assert removed is not None  # one row of counts, always
    return removed


def export_user(db: Database, user_id: str, out: IO[bytes]) -> dict[str, int]:
    """Write everything held about `user_id` to `out` as one JSON document (the user id, when,
    and a list of rows per table), table by table and row by row, from one snapshot: the
    client holds one row at a time, whatever the size. Returns the rows of each list."""
    queries = load_queries()
    counts: dict[str, int] = {}
    with db.transaction() as tx:
        tx.queries.export_user_snapshot()
        header = tx.queries.export_user_header(user_id=user_id)
        assert header is not None
        out.write(b'{\n  "user_id": %s,\n  "exported_at": %s' % (
            header["user_id"].encode(), header["exported_at"].encode()
        ))  # fmt: skip
        with tx.connection.cursor() as cursor:
            for key, name in EXPORTED:
                query = queries[name]
                out.write(b',\n  "%s": [' % key.encode())
                counts[key] = 0
                copy_sql = f"COPY ({query.compiled.sql.rstrip().rstrip(';')}) TO STDOUT"
                with (
                    translated(query),
                    cursor.copy(copy_sql, query.bind({"user_id": user_id})) as copy,
                ):
                    copy.set_types(["text"])
                    for (row,) in copy.rows():
                        out.write(b"%s\n    %s" % (b"," if counts[key] else b"", row.encode()))
                        counts[key] += 1
                out.write(b"\n  ]" if counts[key] else b"]")
    out.write(b"\n}\n")
    return counts
