"""The options of a `Session`, as one dataclass: what a front end chooses, besides the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lever.agent.budget import TokenBudget
from lever.agent.limits import Limits
from lever.models.traits import ModelOptions
from lever.sandbox.approval import Approvals
from lever.sandbox.base import Sandbox
from lever.store.rollout import RolloutWriter


@dataclass
class SessionOptions:
    #: The system prompt; None: the packaged one (prompts/system.md).
    instructions: str | None = None
    #: Limits of each task (one person message and the steps it takes).
    limits: Limits = field(default_factory=Limits)
    rollout: RolloutWriter | None = None
    session_id: str | None = None
    #: None: no sandbox (tests, embedding).
    sandbox: Sandbox | None = None
    #: The environment of commands; None: this process's, without secrets.
    env: dict[str, str] | None = None
    max_retries: int = 4
    retry_base_delay: float = 0.5
    #: Recorded in `session_started` (provider, wire, base URL).
    config: dict[str, Any] = field(default_factory=dict)
    #: None: the model's known window.
    budget: TokenBudget | None = None
    #: Where the personal AGENTS.md and skills live; None reads no project context (tests).
    home: Path | None = None
    #: Approval policy, cache and the front end's answer; None: no gate (tests, embedding).
    approvals: Approvals | None = None
    #: Use the provider's own compaction endpoint where the client has one (Responses API).
    remote_compaction: bool = False
    #: Small models repeat their last call instead of answering: nudge, then stop as stuck.
    stuck_detection: bool = False
    #: Workspace memory (.lever/plan.md, notes): "off", "on" or "auto".
    memory: str = "off"
    #: A task may end while the plan has open steps and the answer asks nothing: lever nudges
    #: the model to go on at most this many times per task (0: never).
    plan_nudges: int = 0
    #: Tell the model its budget (context used, limits left) at the start of each task.
    budget_note: bool = False
    #: Reasoning effort/summary and the apply_patch form; unset: decided by the model's name.
    model_options: ModelOptions = field(default_factory=ModelOptions)
