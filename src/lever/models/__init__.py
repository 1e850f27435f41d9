"""Model clients over httpx: OpenAI Responses, Chat Completions, Anthropic Messages."""

import sys

if "httpx" not in sys.modules:
    # httpx imports its command-line client (click, rich.progress, pygments) on import when
    # those are installed, as they are beside Textual: ~60 ms of every lever start that talks
    # to a model. A None entry makes that import fail, and httpx falls back to its stub `main`.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
