"""An offline model for Agno 2 and 3 (Agno ships none; its own tests subclass Model the same
way): it answers with the last user message and how many user messages it was shown, so the
history in its input is visible in its answer and in `inputs`; a team leader delegates to the
member whose id is in the message ("cartão" to cartoes, else pix)."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agno.agent import Agent
from agno.models.base import Model
from agno.models.message import Message
from agno.models.response import ModelResponse
from agno.team import Team

from .backends import Backend

DELEGATE = "delegate_task_to_member"


@dataclass
class ScriptedModel(Model):
    id: str = "scripted-1"
    name: str = "Scripted"
    provider: str = "Scripted"
    delay: float = 0.0  # seconds per call: lets racing turns all read before any writes
    inputs: list[list[str]] = field(default_factory=list)  # the user texts of each call
    meanwhile: Callable[[], Any] | None = None  # called once, in the next call (another writer)

    def answer(self, messages: list[Message], tools: list[Any] | None) -> ModelResponse:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        users = [m.get_content_string() for m in messages if m.role == "user"]
        self.inputs.append(users)
        last = users[-1] if users else ""
        names = [t.get("function", t).get("name") for t in tools or [] if isinstance(t, dict)]
        if DELEGATE in names and messages[-1].role == "user":
            member = "cartoes" if "cartão" in last.lower() else "pix"
            arguments = json.dumps({"member_id": member, "task": last})
            call = {
                "id": f"call-{uuid.uuid4().hex[:8]}",
                "type": "function",
                "function": {"name": DELEGATE, "arguments": arguments},
            }
            return ModelResponse(role="assistant", tool_calls=[call])
        return ModelResponse(role="assistant", content=f"Entendi: {last} (vi {len(users)})")

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        time.sleep(self.delay)
        return self.answer(kwargs["messages"], kwargs.get("tools"))

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        await asyncio.sleep(self.delay)
        return self.answer(kwargs["messages"], kwargs.get("tools"))

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        yield self.invoke(*args, **kwargs)

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        yield await self.ainvoke(*args, **kwargs)

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]


def specialist(
    db: Any, agent_id: str = "pix", model: ScriptedModel | None = None, **options: Any
) -> Agent:
    """A specialist on the offline model that keeps its last 5 runs in its history."""
    settings = {"add_history_to_context": True, "num_history_runs": 5, **options}
    return Agent(name=agent_id, id=agent_id, model=model or ScriptedModel(), db=db, **settings)


def turn(
    backend: Backend, runner: Agent | Team, text: str, session_id: str, user_id: str = "cliente-1"
) -> Any:
    """One turn, with arun on an async storage (Agno requires it there)."""
    if backend.loop is not None:
        return backend.run(lambda: runner.arun(text, session_id=session_id, user_id=user_id))
    return runner.run(text, session_id=session_id, user_id=user_id)
