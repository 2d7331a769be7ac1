"""Named SQL statements: the loader and compiler (I/O-free), binding and result shapes over one
I/O-free base, the sync and async `Database` twins, typing stubs and the generated types."""

from .connection import connect_direct, direct_connection, require_tables
from .database import Database, Transaction
from .database_async import AsyncDatabase, AsyncTransaction
from .loader import Queries, Query, internal_queries, load_queries

__all__ = [
    "AsyncDatabase",
    "AsyncTransaction",
    "Database",
    "Queries",
    "Query",
    "Transaction",
    "connect_direct",
    "direct_connection",
    "internal_queries",
    "load_queries",
    "require_tables",
]
