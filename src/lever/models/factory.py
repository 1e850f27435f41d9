"""Build the right model client for a wire protocol, and list a provider's models."""

from __future__ import annotations

from typing import Any

from lever.models.base import ModelClient
from lever.models.http import HttpTransport, StreamLimits

WIRES = ("openai-responses", "openai-chat", "anthropic")
_ALIASES = {
    "responses": "openai-responses",
    "openai": "openai-responses",
    "chat": "openai-chat",
    "chat-completions": "openai-chat",
    "chat_completions": "openai-chat",
    "messages": "anthropic",
}
DEFAULT_BASE_URLS = {
    "openai-responses": "https://api.openai.com/v1",
    "openai-chat": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
}


def normalize_wire(wire: str) -> str:
    name = _ALIASES.get(wire.strip().lower(), wire.strip().lower())
    if name not in WIRES:
        raise ValueError(f"unknown wire protocol {wire!r}; expected one of {', '.join(WIRES)}")
    return name


def auth_headers(wire: str, api_key: str | None) -> dict[str, str]:
    """Authentication (and version) headers for a wire; no auth header without a key."""
    if normalize_wire(wire) == "anthropic":
        headers = {"anthropic-version": "2023-06-01"}
        if api_key:
            headers["x-api-key"] = api_key
        return headers
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


def make_transport(
    wire: str,
    base_url: str | None,
    api_key: str | None,
    *,
    timeout: float = 600,
    key_env: str | None = None,
    headers: dict[str, str] | None = None,
    limits: StreamLimits | None = None,
) -> HttpTransport:
    wire = normalize_wire(wire)
    return HttpTransport(
        base_url or DEFAULT_BASE_URLS[wire],
        {**auth_headers(wire, api_key), **(headers or {})},
        timeout=timeout,
        key_env=key_env,
        has_key=bool(api_key),
        limits=limits,
    )


def make_client(
    wire: str,
    base_url: str | None,
    api_key: str | None,
    *,
    timeout: float = 600,
    key_env: str | None = None,
    headers: dict[str, str] | None = None,
    limits: StreamLimits | None = None,
) -> ModelClient:
    """The client for `wire` (not wrapped: callers wrap it in `RetryingClient`)."""
    wire = normalize_wire(wire)
    http = make_transport(
        wire, base_url, api_key, timeout=timeout, key_env=key_env, headers=headers, limits=limits
    )
    if wire == "openai-responses":
        from lever.models.responses import ResponsesClient

        return ResponsesClient(http)
    if wire == "openai-chat":
        from lever.models.chat import ChatClient

        return ChatClient(http)
    from lever.models.anthropic import AnthropicClient

    return AnthropicClient(http)


def _model_ids(payload: Any) -> list[str]:
    """Ids from `{data: [{id}]}` (OpenAI, Anthropic, vLLM…) or `{models: [{name}]}` (Ollama)."""
    if not isinstance(payload, dict):
        return []
    entries = payload.get("data") or payload.get("models") or []
    ids = (e.get("id") or e.get("name") for e in entries if isinstance(e, dict))
    return [i for i in ids if isinstance(i, str)]


async def list_models(
    wire: str,
    base_url: str | None,
    api_key: str | None,
    *,
    timeout: float = 30,
    key_env: str | None = None,
    headers: dict[str, str] | None = None,
) -> list[str]:
    """GET {base_url}/models, following Anthropic's pagination; ids in the server's order."""
    http = make_transport(
        wire, base_url, api_key, timeout=timeout, key_env=key_env, headers=headers
    )
    paged = normalize_wire(wire) == "anthropic"
    params: dict[str, Any] | None = {"limit": 1000} if paged else None
    ids: list[str] = []
    try:
        while True:
            payload = await http.get_json("models", params)
            ids.extend(_model_ids(payload))
            more = paged and isinstance(payload, dict) and payload.get("has_more")
            if not (more and payload.get("last_id")):
                return ids
            params = {"limit": 1000, "after_id": payload.get("last_id")}
    finally:
        await http.aclose()
