"""A database error inside a named statement keeps what an operator needs (the query, the
SQLSTATE, the constraint, the table) and leaves out the values of a customer's row that the
server's message quotes, in its text and in a logged traceback."""

import logging
import traceback

import psycopg
import pytest

from pagbank_pg import Database, QueryError

CUSTOMER = "cpf-123.456.789-00"  # a value of the row that must not reach a log


def _escalation(db: Database, **changes: object) -> object:
    values: dict[str, object] = {
        "ticket_id": "T-1",
        "session_id": "s-1",
        "user_id": CUSTOMER,
        "escalation_reason": f"cliente {CUSTOMER} pediu humano",
        "escalation_type": "explicit_request",
        "conversation_context": [{"role": "user", "content": CUSTOMER}],
        "metadata": None,
    }
    return db.queries.open_escalation(**{**values, **changes})


def _everything_printed(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def test_a_check_violation_names_the_constraint_not_the_row(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(QueryError) as raised:
        _escalation(db, escalation_type="shouting")
    error = raised.value
    assert str(error).startswith("query open_escalation (")
    assert str(error).endswith(
        'failed: new row for relation "escalation_history" violates check constraint '
        '"escalation_history_type_known" [SQLSTATE 23514, constraint '
        "escalation_history_type_known, table escalation_history]"
    )
    assert (error.sqlstate, error.constraint, error.table, error.query) == (
        "23514", "escalation_history_type_known", "escalation_history", "open_escalation",
    )  # fmt: skip
    logging.getLogger("app").exception("turn failed", exc_info=error)
    assert CUSTOMER not in _everything_printed(error)
    assert CUSTOMER not in caplog.text
    # The server's own error is there for a caller who asks for it, with the row.
    assert isinstance(error.original, psycopg.errors.CheckViolation)
    assert CUSTOMER in (error.original.diag.message_detail or "")
    assert db.queries.get_escalation(ticket_id="T-1") is None


def test_a_unique_violation_leaves_out_the_key_s_value(db: Database) -> None:
    _escalation(db, ticket_id=CUSTOMER)
    with pytest.raises(QueryError) as raised:
        _escalation(db, ticket_id=CUSTOMER)
    assert raised.value.sqlstate == "23505"
    assert raised.value.constraint == "escalation_history_ticket_id_key"
    assert CUSTOMER not in _everything_printed(raised.value)


def test_an_input_that_does_not_parse_is_not_quoted(db: Database) -> None:
    with pytest.raises(QueryError) as raised:
        db.queries.get_memory(id=CUSTOMER)  # not a uuid
    message = str(raised.value)
    assert "invalid input syntax for type uuid [SQLSTATE 22P02]" in message
    assert CUSTOMER not in _everything_printed(raised.value)


def test_errors_without_data_keep_their_detail(db: Database) -> None:
    _escalation(db)
    db.queries.resolve_escalation(resolution_notes="ok", ticket_id="T-1")
    with pytest.raises(QueryError) as raised:  # resolved twice: the schema's own rule
        db.queries.resolve_escalation(resolution_notes="again", ticket_id="T-1")
    assert raised.value.sqlstate == "55000"
    assert "escalation T-1 is already resolved (at " in str(raised.value)
    assert "[SQLSTATE 55000" in str(raised.value)
