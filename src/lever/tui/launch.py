"""Opening the app's session through `lever.frontend`, as `lever exec` does, with a person to
answer approvals.

Nothing here is imported before the first frame but `Launch`: the session stack (pydantic, the
model clients, the sandbox) loads in a worker thread once the composer is on screen.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lever.frontend import Opened
    from lever.sandbox.approval import Decide

#: The app asks the person, so by default the model may ask to escalate.
DEFAULT_POLICY = "on-request"


@dataclass
class Launch:
    """What `lever [PROMPT]` (or `lever resume`) was started with."""

    cwd: Path
    args: argparse.Namespace = field(default_factory=argparse.Namespace)
    prompt: str | None = None
    #: A rollout to open instead of a new session (`lever resume`, `/resume`).
    resume: Path | None = None
    #: Open `resume` as a new session forked from it (after event `at`, if given).
    fork: bool = False
    at: int | None = None


def open_session(launch: Launch, decide: Decide, resume: Path | None = None) -> Opened:
    """A new session for `launch`, or the recorded one at `resume` (forked with `--fork`),
    through the one front-end flow; raises ConfigError."""
    from lever.frontend import Request
    from lever.frontend import open_session as open_flow

    fork = launch.fork and resume is not None and resume == launch.resume
    request = Request.from_args(
        launch.args,
        launch.cwd,
        resume=resume,
        fork=fork,
        at=launch.at if fork else None,
        default_approval=DEFAULT_POLICY,
    )
    return open_flow(request, decide)
