"""The JSON Schema of every app-server message, generated from the models in `rpc`.

Checked in at docs/schema/app-server.v1.schema.json (a test regenerates and compares); write it
with `python -m lever.server.schema > docs/schema/app-server.v1.schema.json`.

The root schema accepts any message (a request, a response, an error, a notification). Each
method's exact request and response, and each notification, are `$defs` named in the
`x-methods` and `x-notifications` tables, so a client can check a response against the method it
answers.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from lever.server.rpc import (
    METHODS,
    NOTIFICATIONS,
    PROTOCOL_VERSION,
    ErrorResponse,
    RequestId,
)

SCHEMA_ID = f"urn:lever:app-server:v{PROTOCOL_VERSION}"


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jsonrpc: Literal["2.0"] = "2.0"


class _RequestEnvelope(BaseModel):
    """What a client sends: members this server does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    jsonrpc: Literal["2.0"] = "2.0"


def _camel(method: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in method.replace("/", "_").split("_"))


def _params_field(model: type[BaseModel]) -> Any:
    try:
        model()
    except ValidationError:
        return (model, ...)
    return (model, Field(default_factory=model))


@cache
def envelopes() -> dict[str, dict[str, type[BaseModel]]]:
    """Per method: its `request` and `response` models; per notification: `notification`."""
    out: dict[str, dict[str, type[BaseModel]]] = {}
    for method, (params, result) in METHODS.items():
        name = _camel(method)
        tag: Any = Literal[method]
        request = create_model(
            f"{name}Request",
            __base__=_RequestEnvelope,
            id=(RequestId, ...),
            method=(tag, ...),
            params=_params_field(params),
        )
        response = create_model(
            f"{name}Response", __base__=_Envelope, id=(RequestId, ...), result=(result, ...)
        )
        out[method] = {"request": request, "response": response}
    for method, note in NOTIFICATIONS.items():
        tag = Literal[method]
        notification = create_model(
            f"{_camel(method)}Notification",
            __base__=_Envelope,
            method=(tag, ...),
            params=(note, ...),
        )
        out[method] = {"notification": notification}
    return out


def _union(models: list[type[BaseModel]], discriminator: str | None = None) -> Any:
    union: Any = Union[tuple(models)]  # noqa: UP007 - built from a runtime list
    return Annotated[union, Field(discriminator=discriminator)] if discriminator else union


@cache
def message_adapter() -> TypeAdapter[Any]:
    """Validates any message of the protocol (what the root schema describes)."""
    table = envelopes()
    requests = [kinds["request"] for kinds in table.values() if "request" in kinds]
    responses = [kinds["response"] for kinds in table.values() if "response" in kinds]
    notes = [kinds["notification"] for kinds in table.values() if "notification" in kinds]
    message: Any = Union[  # noqa: UP007
        _union(requests, "method"), _union(notes, "method"), _union(responses), ErrorResponse
    ]
    return TypeAdapter(message)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/$defs/{model.__name__}"}


def app_server_schema() -> dict[str, Any]:
    schema = message_adapter().json_schema(ref_template="#/$defs/{model}")
    table = envelopes()
    methods = {
        method: {"request": _ref(kinds["request"]), "response": _ref(kinds["response"])}
        for method, kinds in table.items()
        if "request" in kinds
    }
    notifications = {
        method: _ref(kinds["notification"])
        for method, kinds in table.items()
        if "notification" in kinds
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"lever app-server protocol, version {PROTOCOL_VERSION}",
        "description": "JSON-RPC 2.0 over stdio, one JSON message per line. The root schema "
        "accepts any message; x-methods and x-notifications name the exact $defs of each one.",
        "x-protocol-version": PROTOCOL_VERSION,
        "x-methods": methods,
        "x-notifications": notifications,
        **schema,
    }


def schema_text() -> str:
    return json.dumps(app_server_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
