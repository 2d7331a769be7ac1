"""User memories through the public BaseDb API, on Agno's own test cases
(libs/agno/tests/integration/db/postgres/test_memory.py in agno-agi/agno): each test names the
cases of Agno's it covers (docs/agno.md has the table). Each runs on ours and on Agno's own
PostgresDb, sync and async."""

import time
from datetime import datetime

import psycopg
import pytest
from agno.db.base import SessionType
from agno.db.schemas.memory import UserMemory

from pagbank_pg.errors import SessionOwnershipError

from .backends import Backend


def memory(
    memory_id: str | None = "memoria_1",
    user_id: str | None = "cliente-1",
    text: str = "Prefere receber o extrato por e-mail",
    topics: list[str] | None = None,
    **fields: object,
) -> UserMemory:
    return UserMemory(
        memory_id=memory_id,
        memory=text,
        topics=topics if topics is not None else ["extrato"],
        user_id=user_id,
        **{"updated_at": datetime.now(), **fields},  # type: ignore[arg-type]
    )


def test_insert_and_read(backend: Backend) -> None:
    """Agno: test_insert_memory, test_get_memory_by_id, test_comprehensive_user_memory_fields."""
    given = memory(
        "memoria_completa",
        topics=["preferencias", "extrato", "canal"],
        input="Manda o extrato por e-mail, por favor",
        feedback="positivo",
        agent_id="conta-digital",
        team_id="ana",
    )
    for result in (
        backend.db.upsert_user_memory(given),
        backend.db.get_user_memory("memoria_completa"),
    ):
        assert isinstance(result, UserMemory)
        assert result.memory_id == "memoria_completa"  # a memory id that is not a UUID
        assert result.memory == given.memory
        assert result.topics == ["preferencias", "extrato", "canal"]
        assert result.user_id == "cliente-1"
        assert result.input == given.input
        assert (result.agent_id, result.team_id) == ("conta-digital", "ana")
    assert backend.db.get_user_memory("nenhuma") is None


def test_update(backend: Backend) -> None:
    """Agno: test_update_memory."""
    given = memory()
    backend.db.upsert_user_memory(given)
    given.memory = "Agora prefere o extrato pelo app"
    given.topics = ["extrato", "app", "atualizada"]
    result = backend.db.upsert_user_memory(given)
    assert (result.memory, result.topics) == (given.memory, given.topics)
    read = backend.db.get_user_memory("memoria_1")
    assert (read.memory, read.topics) == (given.memory, given.topics)
    assert len(backend.db.get_user_memories(user_id="cliente-1")) == 1


def test_without_deserialization(backend: Backend) -> None:
    """Agno: test_upsert_memory_without_deserialization,
    test_get_user_memory_without_deserialize."""
    stored = backend.db.upsert_user_memory(memory(), deserialize=False)
    assert isinstance(stored, dict) and stored["memory_id"] == "memoria_1"
    read = backend.db.get_user_memory("memoria_1", deserialize=False)
    assert isinstance(read, dict)
    assert (read["memory_id"], read["user_id"]) == ("memoria_1", "cliente-1")
    assert read["memory"] == "Prefere receber o extrato por e-mail"
    listed, total = backend.db.get_user_memories(user_id="cliente-1", deserialize=False)
    assert total == 1 and [m["memory_id"] for m in listed] == ["memoria_1"]


def test_delete(backend: Backend) -> None:
    """Agno: test_delete_user_memory, test_delete_multiple_user_memories."""
    for i in range(4):
        backend.db.upsert_user_memory(memory(f"memoria_{i}", text=f"Memória {i}"))
    backend.db.delete_user_memory("memoria_0")
    assert backend.db.get_user_memory("memoria_0") is None
    backend.db.delete_user_memories(["memoria_1", "memoria_2"])
    left = backend.db.get_user_memories(user_id="cliente-1")
    assert [m.memory_id for m in left] == ["memoria_3"]


def test_delete_scoped_by_user(backend: Backend) -> None:
    """Agno: test_delete_user_memory_with_user_id_filter,
    test_delete_user_memories_with_user_id_filter,
    test_delete_user_memories_without_user_id_filter."""
    for memory_id, user in (("m1", "u1"), ("m2", "u1"), ("m3", "u2"), ("m4", "u2"), ("m5", "u3")):
        backend.db.upsert_user_memory(memory(memory_id, user))
    backend.db.delete_user_memory("m1", user_id="u2")
    backend.db.delete_user_memories(["m1", "m2"], user_id="u2")
    assert backend.db.get_user_memory("m1") is not None
    assert backend.db.get_user_memory("m2") is not None
    backend.db.delete_user_memory("m1", user_id="u1")
    backend.db.delete_user_memories(["m2", "m3"], user_id="u1")
    assert backend.db.get_user_memory("m1") is None and backend.db.get_user_memory("m2") is None
    assert backend.db.get_user_memory("m3") is not None
    backend.db.delete_user_memories(["m3", "m4"])  # no user: whoever owns them
    left = sorted(m.memory_id for m in backend.db.get_user_memories())
    assert left == ["m5"]


def test_get_scoped_by_user(backend: Backend) -> None:
    """Agno: test_get_user_memory_with_user_id_filter."""
    backend.db.upsert_user_memory(memory("da_u1", "u1"))
    backend.db.upsert_user_memory(memory("da_u2", "u2"))
    mine = backend.db.get_user_memory("da_u1", user_id="u1")
    assert (mine.memory_id, mine.user_id) == ("da_u1", "u1")
    assert backend.db.get_user_memory("da_u1", user_id="u2") is None
    assert backend.db.get_user_memory("da_u1").user_id == "u1"


def test_topics(backend: Backend) -> None:
    """Agno: test_get_all_memory_topics."""
    backend.db.upsert_user_memory(memory("m1", "u1", topics=["pix", "limite"]))
    backend.db.upsert_user_memory(memory("m2", "u2", topics=["limite", "cartão"]))
    backend.db.upsert_user_memory(memory("m3", "u3", topics=["pix", "investimentos"]))
    assert sorted(backend.db.get_all_memory_topics()) == [
        "cartão",
        "investimentos",
        "limite",
        "pix",
    ]


def test_stats(backend: Backend) -> None:
    """Agno: test_get_user_memory_stats."""
    backend.db.upsert_user_memory(memory("m1", "u1", agent_id="pix"))
    backend.db.upsert_user_memory(memory("m2", "u1", agent_id="cartoes"))
    backend.db.upsert_user_memory(memory("m3", "u2"))
    stats, count = backend.db.get_user_memory_stats()
    assert count == 2
    assert {s["user_id"]: s["total_memories"] for s in stats} == {"u1": 2, "u2": 1}
    one, count = backend.db.get_user_memory_stats(user_id="u1")
    assert count == 1 and [(s["user_id"], s["total_memories"]) for s in one] == [("u1", 2)]
    page, count = backend.db.get_user_memory_stats(limit=1, page=2)
    assert count == 2 and len(page) == 1


def test_bulk_upsert(sync_backend: Backend) -> None:
    """Agno: test_upsert_memories, test_upsert_memories_performance (what it stores; its timing
    belongs in bench/)."""
    given = [
        memory(
            f"massa_{i}",
            f"user_{i % 3}",
            f"Memória em massa {i}",
            topics=[f"topico_{i}", "massa"],
            agent_id=f"agente_{i}",
        )
        for i in range(30)
    ]
    results = sync_backend.db.upsert_memories(given)
    assert len(results) == 30
    for result in results:
        i = int(result.memory_id.removeprefix("massa_"))
        assert isinstance(result, UserMemory)
        assert (result.user_id, result.agent_id) == (f"user_{i % 3}", f"agente_{i}")
        assert result.topics == [f"topico_{i}", "massa"]
    assert len(sync_backend.db.get_user_memories(user_id="user_0")) == 10
    assert len(sync_backend.db.get_user_memories()) == 30


def test_bulk_upsert_updates(sync_backend: Backend) -> None:
    """Agno: test_upsert_memories_update."""
    sync_backend.db.upsert_memories(
        [memory(f"m{i}", f"u{i}", f"Original {i}", topics=["original"]) for i in range(3)]
    )
    updated = [
        memory(
            f"m{i}",
            f"u{i}",
            f"Atualizada {i}",
            topics=["atualizada", "mais"],
            feedback="positivo",
            agent_id=f"novo_{i}",
        )
        for i in range(3)
    ]
    results = sync_backend.db.upsert_memories(updated)
    assert sorted(r.memory_id for r in results) == ["m0", "m1", "m2"]
    for result in [*results, *(sync_backend.db.get_user_memory(f"m{i}") for i in range(3))]:
        i = int(result.memory_id[1:])
        assert result.memory == f"Atualizada {i}"
        assert result.topics == ["atualizada", "mais"]
        assert result.agent_id == f"novo_{i}"
    assert len(sync_backend.db.get_user_memories()) == 3


def test_get_user_memories_filters(backend: Backend) -> None:
    """Filters of get_user_memories that the app uses (beyond Agno's own cases): agent, team,
    topics, and the substring search Agno's own runs as ILIKE."""
    backend.db.upsert_user_memory(
        memory("m1", "u1", "O limite do meu cartão", ["cartão", "limite"], agent_id="cartoes")
    )
    backend.db.upsert_user_memory(
        memory("m2", "u1", "Faz PIX toda sexta", ["pix"], agent_id="pix", team_id="ana")
    )
    backend.db.upsert_user_memory(memory("m3", "u2", "Quer aumentar o LIMITE", ["limite"]))

    def ids(**filters: object) -> list[str]:
        return sorted(m.memory_id for m in backend.db.get_user_memories(**filters))

    assert ids(user_id="u1") == ["m1", "m2"]
    assert ids(agent_id="pix") == ["m2"]
    assert ids(team_id="ana") == ["m2"]
    assert ids(topics=["limite"]) == ["m1", "m3"]
    assert ids(topics=["pix"], user_id="u1") == ["m2"]
    assert ids(search_content="limite") == ["m1", "m3"]  # any case
    assert ids(search_content="toda sex") == ["m2"]  # a part of a word
    assert ids(search_content="nada disso") == []


def test_get_user_memories_paged_and_sorted(backend: Backend) -> None:
    """Pagination and sort of get_user_memories (beyond Agno's own cases)."""
    for i in range(5):
        given = memory(f"m{i}", "u1", f"Memória {i}", updated_at=datetime(2026, 1, 1 + i, 12))
        backend.db.upsert_user_memory(given)  # a new memory keeps the time it was given
    ordered = [
        m.memory_id
        for m in backend.db.get_user_memories(user_id="u1", sort_by="updated_at", sort_order="asc")
    ]
    assert ordered == ["m0", "m1", "m2", "m3", "m4"]
    page, total = backend.db.get_user_memories(
        user_id="u1", sort_by="updated_at", sort_order="desc", limit=2, page=2, deserialize=False
    )
    assert [m["memory_id"] for m in page] == ["m2", "m1"] and total == 5


def test_memory_without_an_id_gets_one(backend: Backend) -> None:
    """A memory given without an id is stored under a new id, and that id reads it back."""
    stored = backend.db.upsert_user_memory(memory(None))
    assert stored.memory_id
    assert backend.db.get_user_memory(stored.memory_id).memory == stored.memory


def test_memory_ids_map_to_rows_of_their_own(own_backend: Backend) -> None:
    """Ours: ids that are not UUIDs (Agno's own tests use `memoria_1`) map to
    user_memories.id deterministically; two such ids never share a row, and writing one
    again updates its row."""
    db = own_backend.db
    db.upsert_user_memory(memory("memoria_1", text="um"))
    db.upsert_user_memory(memory("memoria_2", text="dois"))
    db.upsert_user_memory(memory("memoria_1", text="um de novo"))
    with psycopg.connect(own_backend.dsn) as conn:
        stored = conn.execute("SELECT memory FROM user_memories ORDER BY memory").fetchall()
    assert stored == [("dois",), ("um de novo",)]
    assert db.get_user_memory("memoria_1").memory == "um de novo"


def test_search_understands_portuguese_words_and_accents(own_backend: Backend) -> None:
    """Ours: get_user_memories(search_content=…) finds what Agno's ILIKE finds, and the word
    forms Portuguese full-text search matches, accents ignored (migration 0009)."""
    db = own_backend.db
    db.upsert_user_memory(memory("m1", "u1", "O limite do meu cartão"))
    db.upsert_user_memory(memory("m2", "u1", "Pediu um crédito pessoal"))
    db.upsert_user_memory(memory("m3", "u1", "Faz PIX toda sexta"))

    def ids(search: str) -> list[str]:
        return sorted(m.memory_id for m in db.get_user_memories(search_content=search))

    assert ids("limites") == ["m1"]  # a word form
    assert ids("creditos") == ["m2"]  # accents ignored
    assert ids("cartão limite") == ["m1"]  # every word, in any order
    assert ids("CARTAO") == ["m1"]  # a substring, case and accents ignored
    assert ids("toda sex") == ["m3"]  # part of a word, as ILIKE finds it
    assert ids("50% off") == []  # % is literal


def test_an_update_keeps_user_and_created_at_and_sets_updated_at(own_backend: Backend) -> None:
    """Ours, as Agno's own: a memory stored again keeps its created_at and takes now as its
    updated_at (the stats follow), unless a bulk upsert preserves the updated_at given."""
    db, before = own_backend.db, int(time.time())
    db.upsert_user_memory(memory("m1", updated_at=1_000_000, created_at=1_000_000))
    read = db.get_user_memory("m1")
    read.memory = "Prefere o extrato por SMS"
    db.upsert_user_memory(read)
    again = db.get_user_memory("m1")
    assert (again.memory, again.created_at) == ("Prefere o extrato por SMS", 1_000_000)
    assert again.updated_at >= before
    [stats], _ = db.get_user_memory_stats()
    assert stats["last_memory_updated_at"] >= before
    if own_backend.kind == "pagbank":  # Agno's async db has no bulk upsert
        db.upsert_memories([memory("m1", updated_at=2_000_000)], preserve_updated_at=True)
        assert db.get_user_memory("m1").updated_at == 2_000_000


def test_another_users_memory_id_is_refused(own_backend: Backend) -> None:
    """Ours: a memory id that holds another user's memory is refused, and that memory stays
    (Agno's own writes the text into the other user's memory)."""
    db = own_backend.db
    db.upsert_user_memory(memory("m1", "alice", "Mora em Recife"))
    with pytest.raises(SessionOwnershipError):
        db.upsert_user_memory(memory("m1", "bob", "Mora em Natal"))
    assert [m.memory for m in db.get_user_memories(user_id="alice")] == ["Mora em Recife"]
    assert db.get_user_memories(user_id="bob") == []


def test_a_page_needs_a_limit_and_starts_at_1(own_backend: Backend) -> None:
    """Ours, as Agno 3's own: a page without a limit, or page 0, is refused (ValueError)."""
    db = own_backend.db
    db.upsert_user_memory(memory("m1"))
    calls = [
        lambda: db.get_user_memories(page=3),
        lambda: db.get_user_memories(limit=1, page=0),
        lambda: db.get_user_memory_stats(page=2),
        lambda: db.get_sessions(session_type=SessionType.AGENT, page=2),
        lambda: db.get_sessions(page=2),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="needs a limit and starts at 1"):
            call()


def test_no_topics_is_no_filter_and_no_user_is_no_stats_row(own_backend: Backend) -> None:
    """Ours, as Agno's own: `topics=[]` filters nothing (memories without topics too), and
    memories without a user are not a row of the stats."""
    db = own_backend.db
    db.upsert_user_memory(memory("m1", topics=["extrato"]))
    db.upsert_user_memory(memory("m2", None, "Sem dono", topics=[]))
    assert sorted(m.memory_id for m in db.get_user_memories(topics=[])) == ["m1", "m2"]
    assert db.get_user_memory_stats() == (
        [{"user_id": "cliente-1", "total_memories": 1,
          "last_memory_updated_at": db.get_user_memory("m1").updated_at}],
        1,
    )  # fmt: skip


def test_a_memory_erased_while_it_is_written_is_passed_over(own_backend: Backend) -> None:
    """Ours: the user erased between the write's erasure check and its statement: the
    erasure's trigger keeps the row out and the write answers None (no error)."""
    from pagbank_pg import Database
    from pagbank_pg.lgpd import forget_user

    db = own_backend.db
    db.upsert_user_memory(memory("m1", "bob"))
    with Database.open(own_backend.dsn) as database:
        forget_user(database, "bob")
    native, checks = own_backend.native, []
    real = native._erased

    def first_passes(user_id: object, session_id: object = None) -> object:
        checks.append(user_id)
        if len(checks) > 1:
            return real(user_id, session_id)
        if own_backend.kind == "pagbank":
            return False  # the erasure is not seen yet: it lands right after

        async def not_yet() -> bool:
            return False

        return not_yet()

    native._erased = first_passes
    assert db.upsert_user_memory(memory("m2", "bob")) is None
    assert checks == ["bob", "bob"]
    assert db.get_user_memory("m2") is None
