"""A tool as the model sees it: shared by the tools (which describe themselves) and the model
clients (which put the schemas on the wire), so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolSchema:
    """A function tool as the model sees it: name, description, JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]
