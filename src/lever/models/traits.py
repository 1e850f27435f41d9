"""What a model takes beyond the common request: reasoning parameters and freeform tools.

Reasoning models are asked for an effort and a summary (Responses `reasoning`, Anthropic
`thinking`, Chat `reasoning_effort`); sending those to other models gets a 400, so they go only to
the families below, or to any model the configuration says reasons (`model_reasoning = true`).
Model families trained on Codex's freeform `apply_patch` get it as a custom tool with a grammar
(Responses wire only; everywhere else it stays a function tool).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Model-name prefixes (after any "provider/" part) of models that take reasoning parameters.
_OPENAI_REASONING = ("gpt-5", "o1", "o3", "o4", "codex-")
_ANTHROPIC_THINKING = ("claude-3-7", "claude-opus-4", "claude-sonnet-4", "claude-haiku-4")
#: Families trained on the freeform apply_patch (Codex gives it to these).
_FREEFORM_PATCH = ("gpt-5", "codex-")
#: Anthropic thinking budget per effort (tokens); `max_tokens` must exceed it.
THINKING_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
#: The reply's own room above the thinking budget.
ANSWER_ROOM = 8192


@dataclass(frozen=True)
class ReasoningParams:
    """The reasoning parameters of one request (both None: the provider's defaults)."""

    effort: str | None = None
    summary: str | None = None
    #: The configuration says the model reasons (`model_reasoning = true`): send the wire's
    #: parameters whatever its name.
    declared: bool = False


@dataclass(frozen=True)
class FreeformTool:
    """A tool the model calls with raw text constrained by a Lark grammar (Responses `custom`)."""

    name: str
    description: str
    grammar: str


@dataclass(frozen=True)
class ModelOptions:
    """The configuration's say (`reasoning_effort`, `reasoning_summary`, `model_reasoning`,
    `apply_patch_tool`); None everywhere: decided by the model's name."""

    effort: str | None = None
    summary: str | None = None
    reasoning: bool | None = None
    apply_patch: str | None = None


def _base(model: str) -> str:
    """ "openai/gpt-5" → "gpt-5": routers (OpenRouter, LiteLLM) prefix the vendor."""
    return model.rsplit("/", 1)[-1].lower()


def _is_openai_reasoning(name: str) -> bool:
    if name.startswith("gpt-5-chat"):  # the chat variant of gpt-5 does not reason
        return False
    return name.startswith(_OPENAI_REASONING) or "codex" in name


def reasons(model: str, options: ModelOptions) -> bool:
    """Whether `model` takes reasoning parameters."""
    if options.reasoning is not None:
        return options.reasoning
    name = _base(model)
    return _is_openai_reasoning(name) or name.startswith(_ANTHROPIC_THINKING)


def reasoning_for(model: str, options: ModelOptions) -> ReasoningParams | None:
    """The reasoning parameters to send, or None for a model that takes none."""
    if not reasons(model, options):
        return None
    summary = options.summary or "auto"
    declared = bool(options.reasoning)
    return ReasoningParams(effort=options.effort, summary=summary, declared=declared)


def freeform_apply_patch(model: str, options: ModelOptions) -> bool:
    """Whether apply_patch goes to `model` as a freeform (custom) tool on the Responses wire."""
    if options.apply_patch is not None:
        return options.apply_patch == "freeform"
    name = _base(model)
    if name.startswith("gpt-5-chat"):
        return False
    return name.startswith(_FREEFORM_PATCH) or "codex" in name


def chat_reasoning_effort(model: str, reasoning: ReasoningParams | None) -> str | None:
    """Chat Completions `reasoning_effort`: OpenAI's reasoning models only (other servers'
    models reject or ignore it)."""
    if reasoning is None or reasoning.effort is None:
        return None
    known = _is_openai_reasoning(_base(model))
    return reasoning.effort if known or reasoning.declared else None


def thinking_budget(model: str, reasoning: ReasoningParams | None) -> int | None:
    """Anthropic `thinking.budget_tokens` for this request, or None: no extended thinking.

    Thinking is asked for only when an effort is set (it costs tokens and changes the reply)."""
    if reasoning is None or reasoning.effort is None:
        return None
    if not (_base(model).startswith(_ANTHROPIC_THINKING) or reasoning.declared):
        return None
    return THINKING_BUDGET[reasoning.effort]
