"""An offline model for Agno 2 and 3 (Agno ships none): it answers with the last user message
and how many user messages it was shown, so the history a turn saw is in its answer."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

from agno.agent import Agent
from agno.models.base import Model
from agno.models.response import ModelResponse


class EchoModel(Model):  # type: ignore[misc]
    id: str = "echo-1"
    name: str = "Echo"
    provider: str = "Echo"

    def _answer(self, messages: list[Any]) -> ModelResponse:
        users = [m for m in messages if m.role == "user"]
        last = users[-1].get_content_string() if users else ""
        return ModelResponse(role="assistant", content=f"Entendi: {last} (vi {len(users)})")

    def invoke(self, messages: list[Any], **kwargs: Any) -> ModelResponse:
        return self._answer(messages)

    async def ainvoke(self, messages: list[Any], **kwargs: Any) -> ModelResponse:
        return self._answer(messages)

    def invoke_stream(self, messages: list[Any], **kwargs: Any) -> Iterator[ModelResponse]:
        yield self._answer(messages)

    async def ainvoke_stream(
        self, messages: list[Any], **kwargs: Any
    ) -> AsyncIterator[ModelResponse]:
        yield self._answer(messages)

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]


def agent(db: Any, agent_id: str = "pix", **options: Any) -> Agent:
    """A specialist on the offline model that shows the model its last 5 runs."""
    settings = {"add_history_to_context": True, "num_history_runs": 5, "telemetry": False}
    return Agent(
        id=agent_id, name=agent_id, model=EchoModel(id="echo-1"), db=db, **{**settings, **options}
    )
