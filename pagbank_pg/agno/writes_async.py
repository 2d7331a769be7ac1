"""The write of one Agno session, shared by every Agno generation's storage: under the
session's lock, an erased user is passed over, another user's session is refused, and what is
stored is merged with what comes in (`merge`). No Agno import here. writes.py, its sync twin
(on a `Database`), is generated from it by tools/async_to_sync.py."""

from collections.abc import Callable, Collection
from typing import Any

from .. import mapping
from ..query import AsyncDatabase
from ..query.types import AsyncAgnoQueries, agno_queries, lgpd_queries
from .common import Kind, first_system, run_write
from .merge import check_owner, merge_sessions


async def stored_rows(agno: AsyncAgnoQueries, kind: Kind, session_id: str) -> list[dict[str, Any]]:
    """Every row of one session id (read on the primary: a turn reads what the turn before it
    wrote, whichever app replica wrote it)."""
    if kind == "team":
        return await agno.team_sessions_of_session(session_id=session_id)
    return await agno.agent_session_rows_of_session(session_id=session_id)


async def write_session(
    db: AsyncDatabase,
    kind: Kind,
    values: dict[str, Any],
    rows_of: Callable[[dict[str, Any]], list[dict[str, Any]]],
    *,
    merge: bool,
    served: Collection[bytes] | None = None,
    then: Callable[[list[dict[str, Any]]], Any] | None = None,
    merge_data: bool = True,
) -> list[dict[str, Any]] | None:
    """Store one Agno session (`values`: Agno 1.7's session dict; `rows_of` maps it to the
    table's rows) and return its rows as stored, or None when it belongs to an erased user.

    Under the session's transaction-scoped lock: the erasure check (an erasure that landed
    while this writer waited is seen), the ownership check (`SessionOwnershipError`), then
    the merge with what is stored (`merge=True`) or the replacement of it. `then` is called
    with the rows as stored while the session is still locked (the dual write's mirror).
    `merge_data`: whether the session's dicts merge key by key too (see `merge_sessions`)."""
    session_id = values["session_id"]
    table = f"{kind}_sessions"
    async with db.transaction() as tx:
        agno = agno_queries(tx)
        await agno.lock_agno_session(mode=kind, session_id=session_id)
        if await lgpd_queries(tx).is_erased(user_id=values["user_id"], session_id=session_id):
            return None
        stored = await stored_rows(agno, kind, session_id)
        check_owner((row["user_id"] for row in stored), values["user_id"], session_id, table)
        if stored and merge:
            values = merge_sessions(
                mapping.session_from_rows(stored, kind)[0], values, served, merge_data
            )
        elif stored:
            await _delete_rows(agno, kind, session_id)
        await _save_rows(agno, kind, rows_of(values))
        written = await stored_rows(agno, kind, session_id)
        if written and then is not None:
            then(written)
    return written or None  # none: the erasure's trigger kept them out


async def _delete_rows(agno: AsyncAgnoQueries, kind: Kind, session_id: str) -> None:
    delete = agno.delete_team_session_rows if kind == "team" else agno.delete_agent_session_rows
    await delete(session_id=session_id)


async def _save_rows(agno: AsyncAgnoQueries, kind: Kind, rows: list[dict[str, Any]]) -> None:
    save = agno.save_team_session_row if kind == "team" else agno.save_agent_session_row
    for row in rows:
        await save(**{p: row[p] for p in save.params})


async def rewrite_session(
    db: AsyncDatabase,
    kind: Kind,
    session_id: str,
    edit: Callable[[dict[str, Any]], dict[str, Any] | None],
    rows_of: Callable[[dict[str, Any]], list[dict[str, Any]]],
) -> bool:
    """Rewrite one stored session whole, as `edit` changes it: under the session's lock, its
    values are read back (Agno 1.7's, `session_from_rows`: runs with their messages), given to
    `edit` (None: nothing to change), and stored in place of its rows by `rows_of`, which
    compacts the conversation again (a message no run refers to any longer leaves it).
    Whether the session was rewritten."""
    async with db.transaction() as tx:
        agno = agno_queries(tx)
        await agno.lock_agno_session(mode=kind, session_id=session_id)
        stored = await stored_rows(agno, kind, session_id)
        values = edit(mapping.session_from_rows(stored, kind)[0]) if stored else None
        if values is None:
            return False
        await _delete_rows(agno, kind, session_id)
        await _save_rows(agno, kind, rows_of(values))
    return True


async def put_runs(
    db: AsyncDatabase,
    kind: Kind,
    session_id: str,
    user_id: str | None,
    runs: list[dict[str, Any]],
    *,
    replace: bool = False,
    fields: dict[str, Any] | None = None,
    served: Collection[str] | None = None,
) -> tuple[str, list[str]]:
    """Store Agno 2/3 runs (marked: `common.marked_run`) in the session's row in SQL, without
    reading or rewriting the rest of the session in Python: the new ones appended, or
    (`replace`) the one given put in place of its stored state, unless the writer's copy is
    one it was `served` (fingerprints, hex) and the stored state is another (SQL decides, on
    that run alone). `fields`: the session's row without its runs (`rows_of`), whose metadata,
    state and name replace the stored ones. Under the session's lock, after the erasure and
    ownership checks of `write_session`. Returns "erased" (nothing written), "done", or
    "whole" when the row cannot take the runs so (see `run_write`): nothing was written, the
    caller writes the whole session; and the ids of the runs appended (a run the row holds
    already is not appended: without `replace` its stored state stays)."""
    async with db.transaction() as tx:
        agno = agno_queries(tx)
        await agno.lock_agno_session(mode=kind, session_id=session_id)
        if await lgpd_queries(tx).is_erased(user_id=user_id, session_id=session_id):
            return "erased", []
        system = first_system(runs)
        rows = await agno.agno_session_runs(mode=kind, session_id=session_id, system=system)
        check_owner((row["user_id"] for row in rows), user_id, session_id, f"{kind}_sessions")
        write = run_write(rows, kind, runs, system, replace=replace)
        if write is None:
            return "whole", []
        appended = [run["run_id"] for run in write["runs"]]
        if write["position"] is None and not write["runs"] and fields is None:
            return "done", appended  # nothing new
        put = agno.put_team_runs if kind == "team" else agno.put_agent_runs
        given = fields or {}
        await put(
            **write,
            metadata=given.get("metadata"),
            state=given.get(f"{kind}_session_state"),
            name=given.get(f"{kind}_name"),
            served=list(served) if served is not None else None,
        )
    return "done", appended
