"""Conversations: the messages of a session's runs kept once, in order, and the runs' messages
as references into them (and back). Pure: no I/O."""

from collections.abc import Iterator
from typing import Any

import orjson

from .common import REFS, SPLIT


def _canon(message: Any) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


class _Conversation:
    """Messages in order, with an index (built on first need) to find a message again."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._index: dict[bytes, int] | None = None

    def find(self, message: Any) -> int | None:
        if self._index is None:
            self._index = {}
            for position, known in enumerate(self.messages):
                self._index.setdefault(_canon(known), position)
        return self._index.get(_canon(message))

    def add(self, message: Any) -> int:
        self.messages.append(message)
        if self._index is not None:
            self._index.setdefault(_canon(message), len(self.messages) - 1)
        return len(self.messages) - 1

    def ref(self, message: Any) -> Any:
        """A reference to `message`, adding it to the conversation when it is new."""
        if not isinstance(message, dict):
            return {"m": message}
        if message.get("from_history") is True:
            original = self.find({**message, "from_history": False})
            return {"h": original} if original is not None else {"m": message}
        if message.get("role") == "system":
            seen = self.find(message)
            if seen is not None:
                return seen
        return self.add(message)


def _compact_runs(runs: list[Any], conversation: _Conversation) -> list[Any]:
    compacted = []
    for run in runs:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, list):
            run = {**run, "messages": {REFS: [conversation.ref(m) for m in messages]}}
        compacted.append(run)
    return compacted


def _deref(ref: Any, conversation: list[Any]) -> Any:
    if isinstance(ref, int) and not isinstance(ref, bool):
        return conversation[ref]
    if "h" in ref:
        return {**conversation[ref["h"]], "from_history": True}
    return ref["m"]


def expand_runs(runs: list[Any], conversation: list[Any]) -> list[Any]:
    expanded = []
    for run in runs:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, dict) and REFS in messages:
            run = {**run, "messages": [_deref(r, conversation) for r in messages[REFS]]}
        expanded.append(run)
    return expanded


def has_markers(memory_json: bytes) -> bool:
    """Whether a memory's JSON text holds our markers: such a memory cannot be mapped."""
    return REFS.encode() in memory_json or SPLIT.encode() in memory_json


def compact_memory(memory: Any, runs: list[Any] | None = None) -> tuple[list[Any], Any]:
    """(conversation, memory with its run messages as references); `runs` overrides the runs."""
    conversation = _Conversation()
    if not isinstance(memory, dict):
        return [], memory
    compacted = dict(memory)
    chosen = runs if runs is not None else memory.get("runs")
    if isinstance(chosen, list):
        compacted["runs"] = _compact_runs(chosen, conversation)
    legacy = memory.get("messages")
    if isinstance(legacy, list):  # the legacy format's own list of the session's messages
        refs = []
        for message in legacy:
            seen = conversation.find(message)
            refs.append(seen if seen is not None else conversation.add(message))
        compacted["messages"] = {REFS: refs}
    return conversation.messages, compacted


def expand_memory(compacted: Any, conversation: list[Any]) -> Any:
    """The inverse of `compact_memory`."""
    if not isinstance(compacted, dict):
        return compacted
    memory = dict(compacted)
    if isinstance(memory.get("runs"), list):
        memory["runs"] = expand_runs(memory["runs"], conversation)
    legacy = memory.get("messages")
    if isinstance(legacy, dict) and REFS in legacy:
        memory["messages"] = [conversation[i] for i in legacy[REFS]]
    return memory


def referenced(compacted: Any) -> int:
    """How many conversation messages the references of a compacted memory or run list cover."""
    highest = -1
    for refs in _ref_lists(compacted):
        for ref in refs:
            index = ref if isinstance(ref, int) else ref.get("h", -1)
            highest = max(highest, index)
    return highest + 1


def _ref_lists(compacted: Any) -> Iterator[list[Any]]:
    runs = compacted.get("runs") if isinstance(compacted, dict) else compacted
    for run in runs if isinstance(runs, list) else []:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, dict) and REFS in messages:
            yield messages[REFS]
    legacy = compacted.get("messages") if isinstance(compacted, dict) else None
    if isinstance(legacy, dict) and REFS in legacy:
        yield legacy[REFS]
