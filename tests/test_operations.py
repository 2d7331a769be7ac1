"""The app's operations on the six tables (plan Phase 4.1), their bad input, and LGPD."""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pagbank_pg import Database, QueryArgumentError, QueryError

from .helpers import TABLES, exported


def count(db: Database, table: str) -> int:
    with db.pool.connection() as conn:
        return conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def counts(db: Database) -> dict[str, int]:
    return {table: count(db, table) for table in TABLES}


USER_MSG = {"role": "user", "content": "Quero fazer um PIX de R$ 100%, ação :amount $1 \\ 😀"}
BOT_MSG = {"role": "assistant", "content": "Claro! Para quem?"}


# --- team session persistence ---------------------------------------------------------------


def test_team_session_persistence(db: Database) -> None:
    first = db.queries.upsert_team_session(
        session_id="s-1",
        team_id="ana",
        team_name="Ana",
        user_id="u-1",
        messages=[USER_MSG],
        team_session_state={"routed_to": "pix"},
        metadata=None,
    )
    assert first["messages"] == [USER_MSG] and first["metadata"] == {}
    assert first["created_at"] == first["updated_at"]
    second = db.queries.upsert_team_session(
        session_id="s-1",
        team_id="ana",
        team_name="Ana v2",
        user_id="u-1",
        messages=[USER_MSG, BOT_MSG],
        team_session_state=None,
        metadata={"mode": "route"},
    )
    assert second["id"] == first["id"] and second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"]
    assert (second["team_name"], second["team_session_state"]) == ("Ana v2", {})
    assert db.queries.get_team_session(session_id="s-1", team_id="ana") == second
    appended = db.queries.append_team_messages(session_id="s-1", team_id="ana", messages=[BOT_MSG])
    assert appended["message_count"] == 3
    created = db.queries.append_team_messages(session_id="s-2", team_id="ana", messages=[USER_MSG])
    assert created["message_count"] == 1
    assert db.queries.count_team_sessions() == 2
    assert [r["session_id"] for r in db.queries.team_sessions_of_team(team_id="ana", limit=10)] == [
        "s-2",
        "s-1",
    ]
    assert db.queries.delete_team_session(session_id="s-2", team_id="ana") == 1
    assert db.queries.delete_team_session(session_id="s-2", team_id="ana") == 0


def test_keyset_paging_of_a_users_sessions(db: Database) -> None:
    for i in range(7):
        db.queries.upsert_team_session(
            session_id=f"s-{i}",
            team_id="ana",
            team_name=None,
            user_id="u-1",
            messages=None,
            team_session_state=None,
            metadata=None,
        )
    seen, after = [], {"after_created_at": None, "after_id": None}
    while page := db.queries.team_sessions_of_user(user_id="u-1", page_size=3, **after):
        seen += [row["session_id"] for row in page]
        after = {"after_created_at": page[-1]["created_at"], "after_id": page[-1]["id"]}
    assert seen == [f"s-{i}" for i in reversed(range(7))]


# --- agent session isolation -------------------------------------------------------------------


def test_agent_session_isolation(db: Database) -> None:
    # Two route-mode specialists serving one team session keep separate rows.
    for agent, unit in (("cards", "cartoes"), ("pix", "conta_digital")):
        db.queries.upsert_agent_session(
            session_id="team-s-1",
            agent_id=agent,
            agent_name=agent.title(),
            user_id="u-1",
            business_unit=unit,
            messages=[{"role": "user", "content": agent}],
            agent_session_state={"agent": agent},
            metadata=None,
        )
    db.queries.append_agent_messages(session_id="team-s-1", agent_id="pix", messages=[BOT_MSG])
    rows = db.queries.agent_sessions_of_session(session_id="team-s-1")
    assert {r["agent_id"]: len(r["messages"]) for r in rows} == {"cards": 1, "pix": 2}
    cards = db.queries.get_agent_session(session_id="team-s-1", agent_id="cards")
    assert cards["messages"] == [{"role": "user", "content": "cards"}]
    assert cards["agent_session_state"] == {"agent": "cards"}
    units = db.queries.agent_sessions_of_business_unit(business_unit="cartoes", limit=5)
    assert [r["agent_id"] for r in units] == ["cards"]
    assert [r["agent_id"] for r in db.queries.agent_sessions_of_agent(agent_id="pix", limit=5)] == [
        "pix"
    ]
    page = db.queries.agent_sessions_of_user(
        user_id="u-1", page_size=10, after_created_at=None, after_id=None
    )
    assert len(page) == 2
    assert db.queries.delete_agent_session(session_id="team-s-1", agent_id="cards") == 1
    assert db.queries.count_agent_sessions() == 1


@pytest.mark.parametrize("bad", [{"role": "user"}, "text", 3])
def test_appending_anything_but_an_array_changes_nothing(db: Database, bad: object) -> None:
    db.queries.append_agent_messages(session_id="s-1", agent_id="pix", messages=[USER_MSG])
    with pytest.raises(QueryError, match=r"append_agent_messages.*cannot get array length"):
        db.queries.append_agent_messages(session_id="s-1", agent_id="pix", messages=bad)
    with pytest.raises(QueryError, match="agent_sessions_messages_array"):
        db.queries.upsert_agent_session(
            session_id="s-1",
            agent_id="pix",
            agent_name=None,
            user_id=None,
            business_unit=None,
            messages=bad,
            agent_session_state=None,
            metadata=None,
        )
    row = db.queries.get_agent_session(session_id="s-1", agent_id="pix")
    assert row["messages"] == [USER_MSG]


def test_unserialisable_json_is_refused_before_anything_is_written(db: Database) -> None:
    with pytest.raises(QueryArgumentError) as raised:
        db.queries.append_agent_messages(session_id="s-1", agent_id="pix", messages=[object()])
    assert str(raised.value).startswith("query append_agent_messages (")
    assert "parameter 'messages' is not JSON-serialisable: Type is not JSON serializable" in str(
        raised.value
    )
    assert count(db, "agent_sessions") == 0


def test_nul_characters_are_refused_and_change_nothing(db: Database) -> None:
    with pytest.raises(QueryError, match="append_team_messages"):
        db.queries.append_team_messages(
            session_id="s-1", team_id="ana", messages=[{"content": "a\x00b"}]
        )
    assert count(db, "team_sessions") == 0


# --- memory retrieval ----------------------------------------------------------------------------


def add_memory(db: Database, user: str, text: str, tags: list[str], **extra: object) -> dict:
    values = {
        "id": None,
        "user_id": user,
        "memory": text,
        "memory_tags": tags,
        "business_units": None,
        "importance_score": None,
        "metadata": None,
    }
    values.update(extra)
    return db.queries.add_memory(**values)


def test_memory_retrieval(db: Database) -> None:
    pix = add_memory(db, "u-1", "usa PIX todo dia", ["pix", "pagamentos"], importance_score=0.9)
    card = add_memory(db, "u-1", "tem cartão black", ["cartao"], business_units=["cartoes"])
    add_memory(db, "u-2", "investe em CDB", ["investimentos", "pix"])
    assert pix["importance_score"] == 0.9 and card["importance_score"] == 0.5
    assert db.queries.get_memory(id=pix["id"]) == pix
    any_tag = db.queries.memories_with_any_tag(tags=["pix", "cartao"], limit=10)
    assert {m["memory"] for m in any_tag} == {
        "usa PIX todo dia",
        "tem cartão black",
        "investe em CDB",
    }
    all_tags = db.queries.memories_with_all_tags(tags=["pix", "pagamentos"], limit=10)
    assert [m["id"] for m in all_tags] == [pix["id"]]
    assert [
        m["id"] for m in db.queries.memories_of_business_unit(business_unit="cartoes", limit=9)
    ] == [card["id"]]
    top = db.queries.top_memories_of_user(user_id="u-1", limit=1)
    assert [m["id"] for m in top] == [pix["id"]]
    newest = db.queries.memories_of_user(
        user_id="u-1", page_size=1, after_created_at=None, after_id=None
    )
    assert [m["id"] for m in newest] == [card["id"]]
    updated = db.queries.update_memory(
        id=card["id"], memory=None, memory_tags=["cartao", "vip"], importance_score=None
    )
    assert updated["memory"] == "tem cartão black" and updated["memory_tags"] == ["cartao", "vip"]
    assert updated["updated_at"] > card["updated_at"]
    assert (
        db.queries.update_memory(
            id=uuid.uuid4(), memory="x", memory_tags=None, importance_score=None
        )
        is None
    )
    assert db.queries.delete_memory(id=card["id"]) == 1
    assert db.queries.delete_memory(id=card["id"]) == 0


def test_a_user_id_over_255_characters_is_refused(db: Database) -> None:
    with pytest.raises(
        QueryError, match=r"add_memory .*value too long for type character varying\(255\)"
    ):
        add_memory(db, "u" * 256, "m", [])
    assert count(db, "user_memories") == 0


# --- user sessions -------------------------------------------------------------------------------


def new_session(db: Database, session_id: str, user: str = "u-1") -> dict:
    return db.queries.create_user_session(
        session_id=session_id, user_id=user, team_id="ana", session_context=None, metadata=None
    )


def test_session_manager_semantics(db: Database, db_dsn: str) -> None:
    new_session(db, "s-1")
    new_session(db, "s-2")
    touched = db.queries.touch_user_session(session_id="s-1", context={"last_query": "pix"})
    touched = db.queries.touch_user_session(session_id="s-1", context={"message_length": 12})
    assert touched["interaction_count"] == 2
    assert touched["session_context"] == {"last_query": "pix", "message_length": 12}
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE user_sessions SET last_activity = now() - interval '3 hours' "
            "WHERE session_id = 's-2'"
        )
    assert db.queries.expire_user_sessions(timeout_minutes=None) == 1  # the default, 120
    assert db.queries.expire_user_sessions(timeout_minutes=None) == 0
    assert [s["session_id"] for s in db.queries.active_sessions_of_user(user_id="u-1")] == ["s-1"]
    stats = db.queries.user_session_stats()
    assert stats == {"active_sessions": 1, "total_sessions": 2, "average_interactions": 1.0}
    assert db.queries.deactivate_user_session(session_id="s-1")["is_active"] is False
    assert db.queries.active_sessions_of_user(user_id="u-1") == []


def test_creating_a_session_twice_is_refused(db: Database) -> None:
    new_session(db, "s-1")
    with pytest.raises(QueryError, match=r"create_user_session.*duplicate key") as raised:
        new_session(db, "s-1", user="u-2")
    assert raised.value.sqlstate == "23505"
    assert db.queries.get_user_session(session_id="s-1")["user_id"] == "u-1"


# --- pattern detection ---------------------------------------------------------------------------


def test_pattern_detection(db: Database) -> None:
    data = {"intent": "pix", "keywords": ["transferir", "pix"]}
    first = db.queries.record_pattern(
        pattern_type="intent", pattern_data=data, user_id="u-1", business_unit="conta_digital"
    )
    assert (first["occurrence_count"], first["user_ids"], first["business_units"]) == (
        1,
        ["u-1"],
        ["conta_digital"],
    )
    reordered = {"keywords": ["transferir", "pix"], "intent": "pix"}  # same JSON value
    db.queries.record_pattern(
        pattern_type="intent", pattern_data=reordered, user_id="u-1", business_unit=None
    )
    third = db.queries.record_pattern(
        pattern_type="intent", pattern_data=data, user_id="u-2", business_unit="cartoes"
    )
    assert third["id"] == first["id"] and third["occurrence_count"] == 3
    assert third["user_ids"] == ["u-1", "u-2"] and third["business_units"] == [
        "conta_digital",
        "cartoes",
    ]
    assert third["first_seen"] == first["first_seen"] and third["last_seen"] > first["last_seen"]
    db.queries.record_pattern(
        pattern_type="frustration", pattern_data={"caps": True}, user_id="u-3", business_unit=None
    )
    assert [p["occurrence_count"] for p in db.queries.top_patterns(limit=5)] == [3, 1]
    assert [
        p["pattern_type"]
        for p in db.queries.top_patterns_of_type(pattern_type="frustration", limit=5)
    ] == ["frustration"]
    assert [p["id"] for p in db.queries.top_patterns_of_user(user_id="u-2", limit=5)] == [
        first["id"]
    ]
    assert [
        p["id"] for p in db.queries.top_patterns_of_business_unit(business_unit="cartoes", limit=5)
    ] == [first["id"]]
    assert (
        db.queries.get_pattern(pattern_type="intent", pattern_data=reordered)["id"] == first["id"]
    )


# --- escalation tracking -------------------------------------------------------------------------


def open_ticket(
    db: Database, ticket: str, kind: str | None = "explicit_request", user: str = "u-1"
) -> dict:
    return db.queries.open_escalation(
        ticket_id=ticket,
        session_id="s-1",
        user_id=user,
        escalation_reason="quer falar com humano",
        escalation_type=kind,
        conversation_context=[USER_MSG],
        metadata=None,
    )


def test_escalation_tracking(db: Database) -> None:
    first = open_ticket(db, "T-1")
    open_ticket(db, "T-2", "caps_lock_yelling")
    assert first["resolved_at"] is None and first["whatsapp_notification_sent"] is False
    assert db.queries.mark_whatsapp_sent(ticket_id="T-1")["whatsapp_notification_sent"] is True
    assert [e["ticket_id"] for e in db.queries.open_escalations(limit=10)] == ["T-1", "T-2"]
    resolved = db.queries.resolve_escalation(ticket_id="T-1", resolution_notes="resolvido")
    assert resolved["resolved_at"] is not None and resolved["resolution_notes"] == "resolvido"
    assert [e["ticket_id"] for e in db.queries.open_escalations(limit=10)] == ["T-2"]
    assert db.queries.resolve_escalation(ticket_id="T-404", resolution_notes="x") is None
    assert [e["ticket_id"] for e in db.queries.escalations_of_user(user_id="u-1")] == ["T-2", "T-1"]
    assert [e["ticket_id"] for e in db.queries.escalations_of_session(session_id="s-1")] == [
        "T-1",
        "T-2",
    ]
    by_day = db.queries.escalation_counts_by_day(since=datetime.now(UTC) - timedelta(days=1))
    assert [(r["escalation_type"], r["escalations"]) for r in by_day] == [
        ("caps_lock_yelling", 1),
        ("explicit_request", 1),
    ]


def test_resolving_twice_is_an_error_and_keeps_the_first_resolution(db: Database) -> None:
    open_ticket(db, "T-1")
    first = db.queries.resolve_escalation(ticket_id="T-1", resolution_notes="primeira")
    with pytest.raises(QueryError, match="escalation T-1 is already resolved") as raised:
        db.queries.resolve_escalation(ticket_id="T-1", resolution_notes="segunda")
    assert raised.value.sqlstate == "55000"
    assert db.queries.get_escalation(ticket_id="T-1") == first


def test_unknown_escalation_type_and_duplicate_ticket_are_refused(db: Database) -> None:
    open_ticket(db, "T-1")
    with pytest.raises(QueryError, match="escalation_history_type_known") as raised:
        open_ticket(db, "T-2", "angry_emoji")
    assert raised.value.sqlstate == "23514"
    with pytest.raises(QueryError, match="duplicate key"):
        open_ticket(db, "T-1", "frustration_language")
    assert [e["ticket_id"] for e in db.queries.open_escalations(limit=10)] == ["T-1"]
    assert db.queries.get_escalation(ticket_id="T-1")["escalation_type"] == "explicit_request"


# --- LGPD ----------------------------------------------------------------------------------------


def populate_two_users(db: Database) -> None:
    for user in ("u-1", "u-2"):
        new_session(db, f"{user}-s", user)
        db.queries.upsert_team_session(
            session_id=f"{user}-s",
            team_id="ana",
            team_name="Ana",
            user_id=user,
            messages=[USER_MSG],
            team_session_state=None,
            metadata=None,
        )
        add_memory(db, user, f"memória de {user}", ["pix"])
        open_ticket(db, f"T-{user}", user=user)
        db.queries.record_pattern(
            pattern_type="shared", pattern_data={"p": 1}, user_id=user, business_unit=None
        )
        db.queries.record_pattern(
            pattern_type="own", pattern_data={"u": user}, user_id=user, business_unit=None
        )
    # an Agno agent row without user_id, in u-1's session: still u-1's data
    db.queries.append_agent_messages(session_id="u-1-s", agent_id="pix", messages=[BOT_MSG])


def test_export_user_holds_everything_about_the_user_only(db: Database) -> None:
    populate_two_users(db)
    document = exported(db, "u-1")
    sizes = {k: len(v) for k, v in document.items() if isinstance(v, list)}
    assert sizes == {
        "user_sessions": 1,
        "team_sessions": 1,
        "agent_sessions": 1,
        "user_memories": 1,
        "escalation_history": 1,
        "interaction_patterns": 2,
    }
    assert document["user_memories"][0]["memory"] == "memória de u-1"
    assert document["team_sessions"][0]["messages"] == [USER_MSG]
    assert "u-2" not in str({k: v for k, v in document.items() if k != "interaction_patterns"})


def test_forget_user_erases_one_user_in_one_transaction(db: Database) -> None:
    populate_two_users(db)
    before = counts(db)
    removed = db.queries.forget_user(user_id="u-1")
    assert removed == {
        "team_sessions": 1,
        "agent_sessions": 1,
        "user_memories": 1,
        "user_sessions": 1,
        "escalation_history": 1,
        "interaction_patterns_updated": 1,
        "interaction_patterns_deleted": 1,
    }
    after = counts(db)
    assert after == {
        "team_sessions": before["team_sessions"] - 1,
        "agent_sessions": 0,
        "user_memories": before["user_memories"] - 1,
        "user_sessions": before["user_sessions"] - 1,
        "interaction_patterns": before["interaction_patterns"] - 1,
        "escalation_history": before["escalation_history"] - 1,
    }
    shared = db.queries.get_pattern(pattern_type="shared", pattern_data={"p": 1})
    assert shared["user_ids"] == ["u-2"] and shared["occurrence_count"] == 2
    export = exported(db, "u-1")
    assert all(export[k] == [] for k in export if isinstance(export[k], list))
    assert len(exported(db, "u-2")["user_memories"]) == 1
