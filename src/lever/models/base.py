"""The `ModelClient` interface every wire protocol implements, and the errors they raise.

A client takes (instructions, tools, items) and streams lever events: `TextDelta` while the answer
arrives, one `ItemAdded` per completed output item (assistant message, reasoning, tool call), and
one `TokenUsage` at the end — preceded by an `OutputCut` when the model stopped at its output
limit rather than of its own accord. It does not retry on its own: `lever.models.retry` wraps
every client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from lever.models.traits import FreeformTool, ReasoningParams
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import Item

# Re-exported: the model clients and older imports name it here; it lives in `protocol` so
# the tools need not import the model layer.
from lever.protocol.tools import ToolSchema as ToolSchema


@dataclass(frozen=True)
class OutputCut:
    """The reply ended at the output-token limit, not where the model meant to stop: Responses
    `response.incomplete`, Chat `finish_reason: "length"`, Anthropic `stop_reason: "max_tokens"`.
    Its text or its last tool call is unfinished."""

    #: The provider's own words for it ("max_output_tokens", "length", "max_tokens").
    reason: str
    #: The output cap the request had, when lever set one.
    limit: int | None = None


ModelEvent = TextDelta | ItemAdded | TokenUsage | OutputCut


@dataclass
class ModelRequest:
    instructions: str
    tools: list[ToolSchema]
    items: list[Item]
    model: str
    max_output_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Reasoning parameters (`lever.models.traits`); None: the model takes none.
    reasoning: ReasoningParams | None = None
    #: Tools (by name) sent as freeform custom tools where the wire has them (Responses).
    freeform: tuple[FreeformTool, ...] = ()


class ModelClient(Protocol):
    #: Wire protocol name: "openai-responses", "openai-chat" or "anthropic".
    wire: str

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]: ...

    async def aclose(self) -> None: ...


class ModelError(Exception):
    """Base of every model-side failure. `status` is the HTTP status when there was one."""

    retryable: bool = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableError(ModelError):
    """429, 5xx, timeouts, connection errors and streams cut in the middle."""

    retryable = True

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class AuthError(ModelError):
    """401/403: the key is missing, wrong, or lacks access (or the quota is gone)."""


class BadRequestError(ModelError):
    """400 and other 4xx that retrying cannot fix."""


class ContextLengthError(BadRequestError):
    """The request did not fit in the model's context window.

    `limit` is the provider's maximum and `requested` the request's size as the provider
    counted it, in tokens, when its message says so (most do; OpenAI's Responses API does not).
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        limit: int | None = None,
        requested: int | None = None,
    ) -> None:
        super().__init__(message, status)
        self.limit = limit
        self.requested = requested
        #: Set by the harness: the refused request's size, and whether its limit was learned.
        self.sent_bytes: int | None = None
        self.learned = False


class MalformedResponseError(ModelError):
    """The reply could not be parsed at all; the turn loop retries it without keeping it."""


class ToolCallParseError(MalformedResponseError):
    """The server could not read the model's tool call (llama-server answers 500 when the
    arguments are not valid JSON). Asking again unchanged gets the same reply at temperature 0,
    so the turn loop tells the model what went wrong before it asks again."""
