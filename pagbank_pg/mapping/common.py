"""What every mapping shares: where a row came from, the checks of a value, derived ids and
timestamp parsing. Pure: no I/O."""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from ..errors import RejectedRow

REFS = "$pagbank_refs"  # marks a run's messages replaced by references into the conversation
SPLIT = "$pagbank_split"  # marks a run kept in the row of another agent (route mode)
IDS = uuid.UUID("9b1f6a52-4c1e-4a57-9a43-6f1d6b0c7e10")  # namespace of the ids we derive
AGNO_JSON_COLUMNS = ("memory", "session_data", "extra_data", "agent_data", "team_data")
MAX_ID = 255  # VARCHAR(255) of ids and names
MAX_UNIT = 50  # VARCHAR(50) of business_unit

# Which business unit each of PagBank's specialists serves, by a word of its agent_id.
DEFAULT_UNITS = {
    "adquirencia": "adquirencia",
    "emissao": "cartoes",
    "cart": "cartoes",
    "conta": "conta_digital",
    "pix": "conta_digital",
    "pagbank": "conta_digital",
    "invest": "investimentos",
    "credit": "credito",
    "credito": "credito",
    "segur": "seguros",
}


@dataclass(frozen=True)
class Source:
    """Where a row came from: file name and table."""

    file: str
    table: str


def business_unit_of(agent_id: str, units: Mapping[str, str] = DEFAULT_UNITS) -> str | None:
    """The unit of an agent: an exact key of `units`, else the first key contained in its id."""
    if agent_id in units:
        return units[agent_id]
    lowered = agent_id.lower()
    return next((unit for word, unit in units.items() if word in lowered), None)


# --- checks --------------------------------------------------------------------------------------


def checked_text(
    value: Any, column: str, limit: int | None = MAX_ID, required: bool = False
) -> Any:
    if value is None:
        if required:
            raise RejectedRow(f"{column} is NULL")
        return None
    if not isinstance(value, str):
        raise RejectedRow(f"{column} is not text: {value!r:.60}")
    if limit is not None and len(value) > limit:
        raise RejectedRow(f"{column} is longer than {limit} characters")
    if "\x00" in value:
        raise RejectedRow(f"{column} holds a NUL character, which PostgreSQL cannot store")
    return value


def epoch(value: Any, column: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RejectedRow(f"{column} is not epoch seconds: {value!r:.60}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise RejectedRow(f"{column} {value} is out of range") from None


def row_id(source: Source, *key: str) -> uuid.UUID:
    """A row id derived from where the row came from (file and table) and its key."""
    return uuid.uuid5(IDS, "\x1f".join((source.file, source.table, *key)))


def parse_time(
    value: Any, column: str, zone: tzinfo, render: Callable[[datetime], str], raw: dict[str, Any]
) -> datetime | None:
    """A timestamp text, naive ones read in `zone`; kept as text in `raw` unless `render`
    gives it back exactly (as PostgreSQL returns it: through UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RejectedRow(f"{column} is not a timestamp text: {value!r:.60}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedRow(f"{column} is not a timestamp: {value!r:.60}") from None
    aware = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed
    if render(aware) != value:
        raw[column] = value
    return aware
