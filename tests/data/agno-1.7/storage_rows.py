"""Writes storage_rows.json: the agent_sessions and team_sessions rows that Agno 1.7.12's own
Agent and route-mode Team wrote through PostgresStorage (the 1.7 storage), for the Agno 2/3
upgrade-path tests, which cannot run Agno 1.7 themselves.

Run in the Agno 1.7 venv, against a migrated empty database:
    .venv/bin/python tests/data/agno-1.7/storage_rows.py DSN
"""

import json
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from pagbank_pg.agno import PostgresManager
from tests.helpers import agent, route_team


def main(dsn: str) -> None:
    with PostgresManager(dsn) as manager:
        storage = manager.get_agent_storage()
        pix = agent(storage, "pix")
        pix.run("meu pix não chegou", session_id="pix-1", user_id="ana")
        pix.run("já faz uma hora", session_id="pix-1", user_id="ana")
        team = route_team(manager.get_team_storage(), storage)
        team.run("meu cartão foi bloqueado", session_id="team-1", user_id="bia")
        team.run("e o pix?", session_id="team-1", user_id="bia")
    dumped = {}
    with psycopg.connect(dsn) as conn:
        for table in ("agent_sessions", "team_sessions"):
            query = f"SELECT coalesce(json_agg(t ORDER BY session_id, id), '[]') FROM {table} t"
            dumped[table] = conn.execute(query).fetchone()[0]  # type: ignore[index]
    out = Path(__file__).with_name("storage_rows.json")
    out.write_text(json.dumps(dumped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {', '.join(f'{t} {len(r)}' for t, r in dumped.items())}")


if __name__ == "__main__":
    main(sys.argv[1])
