"""Conversations: the messages of a session's runs kept once, in order, and the runs' messages
as references into them (and back). Pure: no I/O."""

from collections.abc import Iterator
from typing import Any

import orjson

from .common import REFS, SPLIT


def _canon(message: Any) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


def _key(message: Any) -> tuple[Any, Any]:
    """What two messages of the same canonical JSON surely share (cheap to make): their role
    and content when they are text."""
    if not isinstance(message, dict):
        return (None, None)
    role, content = message.get("role"), message.get("content")
    return (role if type(role) is str else None, content if type(content) is str else None)


class _Conversation:
    """Messages in order, with an index to find a message again: by `_key`, then by `==`
    (equal JSON is equal in Python), then by canonical JSON, made only for those candidates
    (`==` takes 1 for 1.0 or True; the canonical JSON does not)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._index: dict[tuple[Any, Any], list[int]] = {}
        self._canons: dict[int, bytes] = {}

    def find(self, message: Any) -> int | None:
        """The first position holding a message of the same canonical JSON as `message`."""
        canon = None
        for position in self._index.get(_key(message), ()):
            known = self.messages[position]
            if known != message:
                continue
            if canon is None:
                canon = _canon(message)
            known_canon = self._canons.get(position)
            if known_canon is None:
                known_canon = self._canons[position] = _canon(known)
            if known_canon == canon:
                return position
        return None

    def add(self, message: Any) -> int:
        position = len(self.messages)
        self.messages.append(message)
        self._index.setdefault(_key(message), []).append(position)
        return position

    def refs(self, messages: list[Any]) -> list[Any]:
        """References to `messages`, adding those that are new to the conversation: a
        `from_history` copy refers to its original, a repeated system prompt to its first."""
        refs: list[Any] = []
        for message in messages:
            if not isinstance(message, dict):
                refs.append({"m": message})
            elif message.get("from_history") is True:
                original = self.find({**message, "from_history": False})
                refs.append({"h": original} if original is not None else {"m": message})
            elif message.get("role") == "system" and (seen := self.find(message)) is not None:
                refs.append(seen)
            else:
                refs.append(self.add(message))
        return refs


def _compact_runs(runs: list[Any], conversation: _Conversation) -> list[Any]:
    compacted = []
    for run in runs:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, list):
            run = {**run, "messages": {REFS: conversation.refs(messages)}}
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
    return _MARKED in memory_json and (_REFS in memory_json or _SPLIT in memory_json)


_REFS, _SPLIT = REFS.encode(), SPLIT.encode()
_MARKED = bytes(c for c, d in zip(_REFS, _SPLIT, strict=False) if c == d)  # what both begin with


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
