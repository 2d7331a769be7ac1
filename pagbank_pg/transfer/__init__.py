"""Moving data between PagBank's SQLite files and PostgreSQL: the SQLite source, the mapping
(one module per thing it maps), the kinds of table (`kinds`), restore, import, export, verify and
progress."""
