"""Context windows of common model families: the one table, each number with its source.

The number is the most **input** a request may carry, in tokens — not the total with the output:
OpenAI's gpt-5 family has a 400,000-token window of which up to 128,000 are reserved for output,
so its requests are refused past 272,000 input tokens. A model is matched by the longest prefix
of its lower-cased name (the part after the last "/", so "openai/gpt-5" is gpt-5).

Overridden by config: `context_window = N` (top level, or in a `[providers.NAME]` table); the
limit a provider states in a context-length error wins over both for the rest of the session.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    prefix: str
    input_tokens: int
    source: str


WINDOWS: tuple[Window, ...] = (
    Window(
        "gpt-5-chat",
        128_000,
        "platform.openai.com/docs/models/gpt-5-chat-latest: 128,000 context, 16,384 output",
    ),
    Window(
        "gpt-5",
        272_000,
        "platform.openai.com/docs/models/gpt-5 (and -mini, -nano, -codex, 5.1): 400,000 context "
        "of which 128,000 max output, so 272,000 input",
    ),
    Window(
        "gpt-4.1",
        1_047_576,
        "platform.openai.com/docs/models/gpt-4.1 (and -mini, -nano): 1,047,576 context",
    ),
    Window("gpt-4o", 128_000, "platform.openai.com/docs/models/gpt-4o: 128,000 context"),
    Window("o4", 200_000, "platform.openai.com/docs/models/o4-mini: 200,000 context"),
    Window("o3", 200_000, "platform.openai.com/docs/models/o3: 200,000 context"),
    Window("o1", 200_000, "platform.openai.com/docs/models/o1: 200,000 context"),
    Window(
        "claude",
        200_000,
        "docs.anthropic.com/en/docs/build-with-claude/context-windows: 200,000 input for every "
        "current Claude model (Sonnet 4/4.5: 1M only with the context-1m beta header)",
    ),
    Window(
        "gemini",
        1_048_576,
        "ai.google.dev/gemini-api/docs/models: gemini 2.5 pro/flash, 1,048,576 input tokens",
    ),
    Window(
        "deepseek",
        128_000,
        "api-docs.deepseek.com/quick_start/pricing: 128K context for deepseek-chat and "
        "-reasoner (V3.1 on; older V3 deployments served 64K)",
    ),
    Window(
        "qwen2.5-coder",
        32_768,
        "huggingface.co/Qwen/Qwen2.5-Coder-7B-Instruct: 32,768 native; a local server's own "
        "n_ctx (`lever local`, config `context_window`) decides in practice",
    ),
    Window(
        "qwen3-coder",
        262_144,
        "huggingface.co/Qwen/Qwen3-Coder-480B-A35B-Instruct: 262,144 native",
    ),
    Window(
        "qwen3",
        32_768,
        "huggingface.co/Qwen/Qwen3-8B: 32,768 native (131,072 with YaRN, if the server enables it)",
    ),
    Window(
        "llama",
        131_072,
        "huggingface.co/meta-llama/Llama-3.1-8B-Instruct: 128K (131,072) for Llama 3.1 and later",
    ),
    Window("devstral", 131_072, "docs.mistral.ai/getting-started/models: Devstral, 128K"),
)

#: For a model the table does not know: the smallest window common hosted models have today.
#: If the provider's real limit is smaller, its first context-length error teaches lever.
FALLBACK = Window("", 128_000, "a conservative default; the provider's error corrects it")


def window_for(model: str) -> Window:
    name = model.lower().rsplit("/", 1)[-1]
    matches = [w for w in WINDOWS if name.startswith(w.prefix)]
    return max(matches, key=lambda w: len(w.prefix)) if matches else FALLBACK
