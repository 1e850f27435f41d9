"""The typed model of `config.toml`: every key lever reads, with the values it allows.

Every table forbids unknown keys, so a mistyped key is an error instead of a setting that
silently does nothing. Each field's `description` is the "what is allowed" part of the one-line
error (see `lever.config.check`). Values are checked strictly (TOML already gives types: `"5"`
is not a number), except that a number is taken as text where text is expected (`-c model=4`).

Adding a key: add the field here, with its allowed values in `description`; if a repository's
own `.lever/config.toml` may set it, add it to `PROJECT_ALLOWED` in `lever.config.loader`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator

from lever.config.values import (
    APPLY_PATCH_FORMS,
    COMPACT_AT_ALLOWED,
    EFFORTS,
    SUMMARIES,
    parse_compact_at,
)

SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
WIRES = ("openai-responses", "openai-chat", "anthropic")
MECHANISMS = ("bwrap", "landlock", "seatbelt", "none")


def _number_to_text(value: Any) -> Any:
    # `-c model=4` or `model = 4` parse as numbers; a name is meant. Booleans stay errors.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _compact_at(value: Any) -> int | float | str:
    parse_compact_at(value)  # raises ValueError: reported with the field's description
    return value  # kept as written: `assembly.budget_from` reads it


Text = Annotated[str, BeforeValidator(_number_to_text)]
CompactAt = Annotated[Any, PlainValidator(_compact_at)]


def allowed(text: str, **constraints: Any) -> Any:
    """An optional field whose description says what is allowed."""
    return Field(default=None, description=text, **constraints)


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class LimitsTable(Table):
    max_turns: int | None = allowed("an integer ≥ 1 (model requests per task)", ge=1)
    max_tokens: int | None = allowed("an integer ≥ 1 (tokens in total)", ge=1)
    max_seconds: float | None = allowed("a number of seconds > 0", gt=0)


class SandboxTable(Table):
    mode: Literal[SANDBOX_MODES] | None = allowed(" | ".join(SANDBOX_MODES))  # type: ignore[valid-type]
    writable_roots: list[str] | None = allowed("a list of paths (strings)")
    network: bool | None = allowed("true or false")
    unix_sockets: bool | None = allowed("true or false")
    allow_read: list[str] | None = allowed('a list of paths (strings), e.g. ["~/.aws"]')
    mechanism: Literal[MECHANISMS] | None = allowed(" | ".join(MECHANISMS))  # type: ignore[valid-type]


class ShellEnvironmentTable(Table):
    include: list[str] | None = allowed("a list of variable names or patterns (strings)")
    exclude: list[str] | None = allowed("a list of variable names or patterns (strings)")
    set_vars: dict[str, Text] | None = allowed('a table of NAME = "value"', alias="set")


class ProviderTable(Table):
    wire: Literal[WIRES] | None = allowed(" | ".join(WIRES))  # type: ignore[valid-type]
    base_url: str | None = allowed('a URL such as "http://127.0.0.1:8080/v1"')
    key_env: str | None = allowed("the name of an environment variable")
    model: Text | None = allowed("a model name")
    context_window: int | None = allowed("an integer ≥ 1 (tokens)", ge=1)
    needs_key: bool | None = allowed("true or false")


class McpServerTable(Table):
    """Types only; `lever.mcp.config` checks how the keys go together (command xor url…)."""

    command: str | None = allowed("a command (string)")
    args: list[str] | None = allowed("a list of strings")
    env: dict[str, str] | None = allowed('a table of NAME = "value"')
    url: str | None = allowed("an http:// or https:// URL")
    headers: dict[str, str] | None = allowed('a table of Header-Name = "value"')
    bearer_token_env_var: str | None = allowed("the name of an environment variable")
    trust: Literal["ask", "trusted"] | None = allowed("ask | trusted")
    startup_timeout_s: float | None = allowed("a number of seconds > 0", gt=0)
    tool_timeout_s: float | None = allowed("a number of seconds > 0", gt=0)
    enabled: bool | None = allowed("true or false")


class LocalTable(Table):
    gguf: str | None = allowed("the path of a GGUF file")
    server_bin: str | None = allowed("the path of a llama-server binary")
    port: int | None = allowed("a port number 1-65535", ge=1, le=65535)
    ctx_size: int | None = allowed("an integer ≥ 512 (tokens)", ge=512)
    temperature: float | None = allowed("a number from 0 to 2", ge=0, le=2)


class RetryTable(Table):
    max_retries: int | None = allowed("an integer ≥ 0", ge=0)
    base_delay: float | None = allowed("a number of seconds ≥ 0", ge=0)
    max_retry_after: float | None = allowed("a number of seconds from 0 to 120", ge=0, le=120)


class CommandLimitsTable(Table):
    """rlimits of each command (`lever.tools.command_limits`), and the pids.max and memory limit
    of its cgroup where one is made (`lever.sandbox.cgroup`); 0 lifts one."""

    max_processes: int | None = allowed("an integer ≥ 0 (processes; 0: no limit)", ge=0)
    max_address_space: int | None = allowed("an integer ≥ 0 (bytes per process; 0: no limit)", ge=0)
    max_memory: int | None = allowed(
        "an integer ≥ 0 (bytes for a command and all it starts; 0: no limit)", ge=0
    )
    max_file_bytes: int | None = allowed("an integer ≥ 0 (bytes per file; 0: no limit)", ge=0)
    max_output_file_bytes: int | None = allowed(
        "an integer ≥ 65536 (bytes of a command's output kept in its file)", ge=65536
    )


class MemoryTable(Table):
    workspace: Literal["auto", "on", "off"] | None = allowed("auto | on | off")


class SubagentsTable(Table):
    """The `spawn_agent` tool: sub-agents and their bounds (DESIGN.md §4, lever.agent.subagents)."""

    enabled: bool | None = allowed("true or false (default: true, false for local models)")
    max_depth: int | None = allowed("an integer ≥ 1 (1: children cannot spawn)", ge=1)
    max_concurrent: int | None = allowed("an integer ≥ 1 (children running at once)", ge=1)
    max_total: int | None = allowed("an integer ≥ 1 (children per session)", ge=1)
    max_turns: int | None = allowed("an integer ≥ 1 (a child's model requests)", ge=1)
    max_tokens: int | None = allowed("an integer ≥ 1 (a child's tokens)", ge=1)
    diff_max_bytes: int | None = allowed("an integer ≥ 1024 (diff bytes shown)", ge=1024)


class TuiTable(Table):
    theme: str | None = allowed("dark | light | auto | a Textual theme name")


class Settings(Table):
    """What a profile may set: everything but `profile` and `profiles`."""

    provider: str | None = allowed("a provider name (a preset or a [providers.NAME] table)")
    model: Text | None = allowed("a model name")
    context_window: int | None = allowed("an integer ≥ 1 (tokens)", ge=1)
    compact_at: CompactAt | None = allowed(COMPACT_AT_ALLOWED)
    compaction: Literal["local", "remote"] | None = allowed("local | remote")
    reasoning_effort: Literal[EFFORTS] | None = allowed(" | ".join(EFFORTS))  # type: ignore[valid-type]
    reasoning_summary: Literal[SUMMARIES] | None = allowed(" | ".join(SUMMARIES))  # type: ignore[valid-type]
    model_reasoning: bool | None = allowed("true or false (default: from the model's name)")
    apply_patch_tool: Literal[APPLY_PATCH_FORMS] | None = allowed(" | ".join(APPLY_PATCH_FORMS))  # type: ignore[valid-type]
    approval: Literal[APPROVAL_POLICIES] | None = allowed(" | ".join(APPROVAL_POLICIES))  # type: ignore[valid-type]
    stuck_detection: bool | None = allowed("true or false")
    plan_nudges: int | None = allowed("an integer ≥ 0 (nudges per task)", ge=0)
    budget_note: bool | None = allowed("true or false")
    shell_snapshot: bool | None = allowed("true or false")
    stream_idle_timeout: float | None = allowed("a number of seconds > 0", gt=0)
    stream_max_bytes: int | None = allowed("an integer ≥ 1024 (bytes)", ge=1024)
    stream_headers_timeout: float | None = allowed("a number of seconds > 0", gt=0)
    limits: LimitsTable | None = allowed("a table: [limits]")
    sandbox: SandboxTable | None = allowed("a table: [sandbox]")
    shell_environment: ShellEnvironmentTable | None = allowed("a table: [shell_environment]")
    providers: dict[str, ProviderTable] | None = allowed("tables: [providers.NAME]")
    mcp_servers: dict[str, McpServerTable] | None = allowed("tables: [mcp_servers.NAME]")
    local: LocalTable | None = allowed("a table: [local]")
    retry: RetryTable | None = allowed("a table: [retry]")
    command_limits: CommandLimitsTable | None = allowed("a table: [command_limits]")
    memory: MemoryTable | None = allowed("a table: [memory]")
    tui: TuiTable | None = allowed("a table: [tui]")
    subagents: SubagentsTable | None = allowed("a table: [subagents]")


class LeverConfig(Settings):
    """The whole file (and each `-c` override, and the merged result)."""

    profile: str | None = allowed("the name of a [profiles.NAME] table")
    profiles: dict[str, Settings] | None = allowed("tables: [profiles.NAME]")
