"""The schema: yoyo migrations of `sql/migrations` (with a lock that survives crashes) and the
embedded PostgreSQL server used when no URL is given."""
