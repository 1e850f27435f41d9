"""The app-server's messages (protocol version "1"): JSON-RPC 2.0 envelopes, the params and
result of every method, and the notifications. The JSON Schema is generated from these models
(`lever.server.schema`); the `event` notification carries lever's own event union.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lever.protocol.events import ApprovalRequested, Event

PROTOCOL_VERSION = "1"

RequestId = int | str
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
ApprovalPolicy = Literal["untrusted", "on-failure", "on-request", "never"]
Decision = Literal["approve_once", "approve_session", "deny", "deny_and_stop"]

# JSON-RPC error codes: the standard ones, then lever's (-32000..-32099 are for servers).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNKNOWN_SESSION = -32001
TURN_RUNNING = -32002
CONFIG_ERROR = -32003
NO_PENDING_APPROVAL = -32004
MODEL_ERROR = -32005


class _Params(BaseModel):
    """A request's params. Fields this server does not know are ignored, as JSON-RPC clients of
    this kind expect (LSP, MCP and Codex's app-server clients all send `clientInfo` and more)."""

    model_config = ConfigDict(extra="ignore")


class _Notification(BaseModel):
    """A notification's params: the server's own output, so exactly as described."""

    model_config = ConfigDict(extra="forbid")


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- params and results ---------------------------------------------------------------------


class ClientInfo(BaseModel):
    """`clientInfo` as LSP and MCP clients send it."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    version: str = ""
    title: str = ""


class InitializeParams(_Params):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    client_name: str = ""
    client_version: str = ""
    protocol_version: str = PROTOCOL_VERSION
    client_info: ClientInfo | None = Field(default=None, alias="clientInfo")


class Capabilities(_Result):
    streaming: bool = True
    approvals: bool = True
    interrupt: bool = True
    fork: bool = True
    methods: list[str] = Field(default_factory=list)
    notifications: list[str] = Field(default_factory=list)


class InitializeResult(_Result):
    server_name: str
    server_version: str
    protocol_version: str
    capabilities: Capabilities


class ModelParams(_Params):
    """Which model, as the CLI's model flags; unset ones come from the configuration."""

    cwd: str | None = None
    model: str | None = None
    provider: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    profile: str | None = None
    #: `-c KEY=VALUE` overrides, in TOML syntax.
    config: list[str] = Field(default_factory=list)


class SessionNewParams(ModelParams):
    cwd: str
    sandbox: SandboxMode | None = None
    approval: ApprovalPolicy | None = None


class SessionResult(_Result):
    session_id: str
    #: The rollout holds a turn that never finished: `turn/send` with `text: null` continues it.
    open_turn: bool = False


class RestoreParams(ModelParams):
    """Resume and fork keep the recorded sandbox, approval policy and limits; these may narrow
    them, and widen them only with `widen` (recorded in the new `session_started`)."""

    session_id: str
    sandbox: SandboxMode | None = None
    approval: ApprovalPolicy | None = None
    widen: bool = False


class SessionResumeParams(RestoreParams):
    pass


class SessionForkParams(RestoreParams):
    #: Fork from the state after this event (its `seq`); default: the end.
    at: int | None = Field(default=None, ge=1)


class SessionListParams(_Params):
    #: Only sessions started in this folder; default: every folder.
    cwd: str | None = None
    limit: int = Field(default=20, ge=1, le=1000)


class SessionInfo(_Result):
    session_id: str
    cwd: str
    title: str
    status: str
    model: str
    provider: str
    started: float
    updated: float
    turns: int
    input_tokens: int
    output_tokens: int
    #: Sub-agents it started (their own sessions are not listed).
    children: int = 0
    #: Loaded in this app-server right now.
    loaded: bool = False


class SessionListResult(_Result):
    sessions: list[SessionInfo]


class SessionCloseParams(_Params):
    session_id: str


class SessionCloseResult(_Result):
    closed: bool = True
    #: A turn was running and was interrupted.
    interrupted: bool


class TurnSendParams(_Params):
    session_id: str
    #: The person's message; null continues the unfinished turn of a resumed session.
    text: str | None


class TurnSendResult(_Result):
    accepted: bool = True


class TurnInterruptParams(_Params):
    session_id: str


class TurnInterruptResult(_Result):
    #: False when no turn was running.
    interrupted: bool


class ApprovalRespondParams(_Params):
    session_id: str
    call_id: str
    decision: Decision


class ApprovalRespondResult(_Result):
    accepted: bool = True


class ConfigReadParams(_Params):
    cwd: str | None = None
    profile: str | None = None
    config: list[str] = Field(default_factory=list)


class ConfigReadResult(_Result):
    home: str
    #: The merged configuration (values of secret-looking keys replaced by "***").
    config: dict[str, Any]


class ModelsListParams(ModelParams):
    pass


class ModelsListResult(_Result):
    provider: str
    models: list[str]


class EventParams(_Notification):
    session_id: str
    event: Event


class ApprovalRequestParams(_Notification):
    session_id: str
    request: ApprovalRequested


# -- envelopes ------------------------------------------------------------------------------

#: Method name -> (params model, result model).
METHODS: dict[str, tuple[type[_Params], type[_Result]]] = {
    "initialize": (InitializeParams, InitializeResult),
    "session/new": (SessionNewParams, SessionResult),
    "session/resume": (SessionResumeParams, SessionResult),
    "session/fork": (SessionForkParams, SessionResult),
    "session/list": (SessionListParams, SessionListResult),
    "session/close": (SessionCloseParams, SessionCloseResult),
    "turn/send": (TurnSendParams, TurnSendResult),
    "turn/interrupt": (TurnInterruptParams, TurnInterruptResult),
    "approval/respond": (ApprovalRespondParams, ApprovalRespondResult),
    "config/read": (ConfigReadParams, ConfigReadResult),
    "models/list": (ModelsListParams, ModelsListResult),
}

NOTIFICATIONS: dict[str, type[_Notification]] = {
    "event": EventParams,
    "approval/request": ApprovalRequestParams,
}


class ErrorObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: int
    message: str
    data: Any = None


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId | None
    error: ErrorObject


class IncomingRequest(BaseModel):
    """Any request, before its params are read by its method's model."""

    model_config = ConfigDict(extra="ignore")

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
