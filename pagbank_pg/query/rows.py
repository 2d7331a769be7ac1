"""The row of each of the plan's tables as the named statements return it (`dict_row`, JSON
loaded): what `SELECT * FROM <table>` and `... RETURNING *` give, typed for editors and mypy.

Written by hand from sql/migrations; tests/test_typing.py compares every field (name, order,
type, nullability) with the migrated schema, so the two cannot drift. `types.py` types a
statement's result with these where the statement returns the whole row (`ROW_TYPES`).
"""

from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID


class TeamSessionRow(TypedDict):
    """A row of `team_sessions`."""

    id: UUID
    session_id: str
    team_id: str
    team_name: str | None
    user_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    messages: Any
    team_session_state: Any
    metadata: Any


class AgentSessionRow(TypedDict):
    """A row of `agent_sessions`."""

    id: UUID
    session_id: str
    agent_id: str
    agent_name: str | None
    user_id: str | None
    business_unit: str | None
    created_at: datetime | None
    updated_at: datetime | None
    messages: Any
    agent_session_state: Any
    metadata: Any


class UserMemoryRow(TypedDict):
    """A row of `user_memories`."""

    id: UUID
    user_id: str
    memory: str
    created_at: datetime | None
    updated_at: datetime | None
    metadata: Any
    memory_tags: list[str] | None
    business_units: list[str] | None
    importance_score: float | None


class UserSessionRow(TypedDict):
    """A row of `user_sessions`."""

    session_id: str
    user_id: str
    team_id: str | None
    created_at: datetime | None
    last_activity: datetime | None
    interaction_count: int | None
    session_context: Any
    is_active: bool | None
    metadata: Any


class InteractionPatternRow(TypedDict):
    """A row of `interaction_patterns`."""

    id: UUID
    pattern_type: str
    pattern_data: Any
    occurrence_count: int | None
    first_seen: datetime | None
    last_seen: datetime | None
    user_ids: list[str] | None
    business_units: list[str] | None
    metadata: Any


class EscalationRow(TypedDict):
    """A row of `escalation_history`."""

    id: UUID
    ticket_id: str
    session_id: str
    user_id: str
    escalation_reason: str | None
    escalation_type: str | None
    created_at: datetime | None
    resolved_at: datetime | None
    resolution_notes: str | None
    whatsapp_notification_sent: bool | None
    conversation_context: Any
    metadata: Any


ROW_TYPES: dict[str, type[Any]] = {
    "team_sessions": TeamSessionRow,
    "agent_sessions": AgentSessionRow,
    "user_memories": UserMemoryRow,
    "user_sessions": UserSessionRow,
    "interaction_patterns": InteractionPatternRow,
    "escalation_history": EscalationRow,
}
