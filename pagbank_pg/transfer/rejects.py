"""The import's reject file: one JSON line per source row rejected, with why."""

from pathlib import Path
from typing import IO, Any

import orjson

from ..private import private_file
from .source import SourceTable
from .values import describe_row


class Rejects:
    """The reject file (JSON lines), created on the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, table: SourceTable, values: tuple[Any, ...], reason: str) -> None:
        if self._file is None:
            self._file = private_file(self.path)  # 0600: it holds customer data
        record = {
            "file": str(table.path),
            "table": table.table,
            "kind": table.kind,
            "reason": reason,
            "row": describe_row(table.columns, values),
        }
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    @property
    def used(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
