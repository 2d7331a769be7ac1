"""LGPD (Brazil's data-protection law): erase a user so that it stays erased.

`forget_user` works in two steps. First it records the user and its sessions as erased
(keyed hashes in `erased_ids`, committed at once): from then on the `keep_erased_out` trigger
drops any row of theirs that a re-import, a dual write or an app replica in flight would
write. Then, in one transaction, it waits for the writers that started before the record (they
might have missed it) and deletes every row. What erasure cannot reach is outside PostgreSQL:
`REACH` says so, and the CLI prints it.
"""

from typing import Any

from .query import Database

REACH = (
    "erasure reaches PostgreSQL only: this user's data may still be in the app's SQLite files, "
    "in files written by export-sqlite or export-user, in import reject files and in backups; "
    "delete it there too (a re-import of those SQLite files passes the user over)"
)


def forget_user(db: Database, user_id: str) -> dict[str, Any]:
    """Erase `user_id` from the six tables and keep it out; how many rows each table lost."""
    db.queries.record_erasure(user_id=user_id)
    with db.transaction() as tx:
        tx.queries.hold_writers()
        removed = tx.queries.forget_user(user_id=user_id)
    assert removed is not None  # one row of counts, always
    return removed
