"""The person at the front end, scripted: tests of approvals answer lever's requests with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lever.protocol import ApprovalRequested
    from lever.sandbox.approval import Decision


class Front:
    """Answers each approval request with the next of `answers` and records what was asked.
    Past the last answer it answers `then`; without `then`, one request too many is an
    IndexError, which fails the test that did not expect it."""

    def __init__(self, *answers: Decision, then: Decision | None = None) -> None:
        self.answers = list(answers)
        self.then = then
        self.asked: list[ApprovalRequested] = []

    async def __call__(self, request: ApprovalRequested) -> Decision:
        self.asked.append(request)
        if not self.answers and self.then is not None:
            return self.then
        return self.answers.pop(0)
