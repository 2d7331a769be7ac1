"""Read the schema of a database back from the PostgreSQL catalogue, for comparisons."""

from typing import Any

import psycopg

TABLES = (
    "team_sessions",
    "agent_sessions",
    "user_memories",
    "user_sessions",
    "interaction_patterns",
    "escalation_history",
)

_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname NOT LIKE '%yoyo%'
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT c.relname, k.contype,
       array_agg(a.attname::text ORDER BY array_position(k.conkey, a.attnum))
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
WHERE c.relname NOT LIKE '%yoyo%'
  AND k.contype <> 'n'  -- NOT NULL (a constraint row from PostgreSQL 18 on): see columns
GROUP BY c.relname, k.conname, k.contype
"""

_INDEXES = """
SELECT i.relname, t.relname, pg_get_indexdef(i.oid), x.indisvalid
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
WHERE NOT x.indisprimary AND NOT x.indisunique AND t.relname NOT LIKE '%yoyo%'
"""

_OBJECTS = """
SELECT c.relkind::text, c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE c.relname NOT LIKE '%yoyo%'
UNION ALL
SELECT 'type', t.typname FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'public'
WHERE t.typname NOT LIKE '%yoyo%' AND t.typname NOT LIKE '\\_%'
UNION ALL
SELECT 'function', p.proname FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public'
"""


def snapshot(dsn: str) -> dict[str, Any]:
    """Columns, constraints, indexes and every other object of the public schema."""
    with psycopg.connect(dsn) as conn:
        columns = {
            (table, column): (type_, not_null, default)
            for table, column, type_, not_null, default in conn.execute(_COLUMNS)
        }
        constraints = {
            (table, kind, tuple(cols)) for table, kind, cols in conn.execute(_CONSTRAINTS)
        }
        indexes = {
            name: (table, definition, valid)
            for name, table, definition, valid in conn.execute(_INDEXES)
        }
        objects = set(conn.execute(_OBJECTS).fetchall())
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "objects": objects}
