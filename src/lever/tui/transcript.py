"""The transcript: the event stream turned into cells, in order.

It keeps only layout bookkeeping (which cell shows which call, which answer is streaming); all
content comes from the events, so a recorded session renders the same way from its rollout.

The protocol and the cells (Markdown, syntax highlighting) are imported inside the methods: no
event arrives before the session exists, and the first frame must not wait for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widget import Widget

from lever.tui.approval import ApprovalGate, ApprovalPrompt

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lever.protocol import ItemAdded, TextDelta, ToolFinished
    from lever.tui.answer import AnswerCell
    from lever.tui.cells import CommandCell, NoticeCell, ReasoningCell

#: Tools with a cell of their own kind: the plan panel, the patch cell.
_NO_COMMAND_CELL = {"update_plan", "apply_patch"}


class Transcript(VerticalScroll, can_focus=False):
    def __init__(self) -> None:
        super().__init__(id="transcript")
        self.gate: ApprovalGate | None = None
        self.auto_follow = True
        self._answer: AnswerCell | None = None
        self._reasoning: ReasoningCell | None = None
        self._commands: dict[str, CommandCell] = {}
        self._prompts: dict[str, ApprovalPrompt] = {}

    @property
    def following(self) -> bool:
        """True unless the person scrolled up to read: then new cells do not pull them down."""
        return self.auto_follow

    def page(self, step: int) -> None:
        """Page up (-1) or down (1); paging back to the end follows new cells again."""
        if step < 0:
            self.auto_follow = False
            self.scroll_page_up(animate=False)
        else:
            self.scroll_page_down(animate=False)
            self.auto_follow = self.max_scroll_y - self.scroll_y <= self.size.height

    def _on_mouse_scroll_up(self, event: object) -> None:
        self.auto_follow = False

    def _on_mouse_scroll_down(self, event: object) -> None:
        self.auto_follow = self.max_scroll_y - self.scroll_y <= 2

    def follow(self) -> None:
        self.call_after_refresh(self.scroll_end, animate=False)

    async def add(self, cell: Widget) -> None:
        following = self.following
        await self.mount(cell)
        if following:
            self.follow()

    def notice(self, text: str) -> NoticeCell:
        from lever.tui.cells import NoticeCell

        cell = NoticeCell(text)
        self.run_worker(self.add(cell))
        return cell

    async def clear_cells(self) -> None:
        await self.remove_children()
        self._answer = self._reasoning = None
        self._commands.clear()
        self._prompts.clear()

    @property
    def waiting_prompts(self) -> list[ApprovalPrompt]:
        return [p for p in self._prompts.values() if p.decision is None]

    async def apply(self, event: BaseModel) -> None:
        """Show one event."""
        following = self.following
        await self._apply(event)
        if following:
            self.follow()

    async def apply_side(self, event: BaseModel) -> None:
        """Show an event of a helper session (the `/review` reviewer): its commands and errors.

        Its task, its answer (the review JSON) and its start and end are not shown: the report
        arrives as a note in the app's own session.
        """
        from lever.protocol import ErrorEvent, ToolFinished, ToolOutputChunk, ToolStarted

        if isinstance(event, ToolStarted | ToolOutputChunk | ToolFinished | ErrorEvent):
            await self.apply(event)

    async def _apply(self, event: BaseModel) -> None:
        from lever.protocol import (
            ApprovalDecided,
            ApprovalRequested,
            ItemAdded,
            PatchApplied,
            TextDelta,
            ToolFinished,
            ToolOutputChunk,
            ToolStarted,
        )
        from lever.tui.cells import CommandCell, PatchCell

        if isinstance(event, TextDelta):
            await self._delta(event)
        elif isinstance(event, ItemAdded):
            await self._item(event)
        elif isinstance(event, ToolStarted) and event.name not in _NO_COMMAND_CELL:
            cell = CommandCell(event.call_id, event.name, event.arguments)
            self._commands[event.call_id] = cell
            await self.add(cell)
        elif isinstance(event, ToolOutputChunk) and event.call_id in self._commands:
            self._commands[event.call_id].add_output(event.chunk)
        elif isinstance(event, ToolFinished):
            await self._tool_finished(event)
        elif isinstance(event, PatchApplied):
            await self.add(PatchCell(event.files, event.diff))
        elif isinstance(event, ApprovalRequested):
            prompt = ApprovalPrompt(event, self.gate)
            self._prompts[event.call_id] = prompt
            await self.add(prompt)
            if self.gate is not None and event.call_id in self.gate.pending:
                prompt.add_class("waiting")
                prompt.focus()
        elif isinstance(event, ApprovalDecided) and event.call_id in self._prompts:
            self._prompts[event.call_id].decided(event)
        else:
            await self._other(event)

    async def _delta(self, event: TextDelta) -> None:
        from lever.tui.answer import AnswerCell
        from lever.tui.cells import ReasoningCell

        if event.channel == "reasoning":
            if self._reasoning is None:
                self._reasoning = ReasoningCell()
                await self.add(self._reasoning)
            self._reasoning.add(event.delta)
            return
        if self._answer is None:
            self._answer = AnswerCell()
            await self.add(self._answer)
        self._answer.streamed += event.delta
        await self._answer.append(event.delta)

    async def _item(self, event: ItemAdded) -> None:
        from lever.agent.harness_messages import is_person_message, tag_of
        from lever.protocol import AssistantMessage, Reasoning
        from lever.tui.answer import AnswerCell
        from lever.tui.cells import ReasoningCell, UserCell
        from lever.tui.review import review_cell

        item = event.item
        if is_person_message(item):
            self._answer = self._reasoning = None
            await self.add(UserCell(getattr(item, "text", "")))
        elif tag_of(item) == "review":
            await self.add(review_cell(getattr(item, "text", "")))
        elif isinstance(item, AssistantMessage):
            if self._answer is None and item.text:
                await self.add(AnswerCell(item.text))
            self._answer = None
        elif isinstance(item, Reasoning):
            if self._reasoning is None and item.summary:
                self._reasoning = ReasoningCell(item.summary)
                await self.add(self._reasoning)
            if self._reasoning is not None:
                self._reasoning.done()
            self._reasoning = None

    async def _tool_finished(self, event: ToolFinished) -> None:
        from lever.tui.cells import ErrorCell

        self._answer = None
        cell = self._commands.pop(event.call_id, None)
        if cell is not None:
            cell.finish(
                event.exit_code,
                event.duration_ms,
                event.full_output,
                event.is_error,
                event.process_id,
            )
        elif event.is_error:
            await self.add(ErrorCell(f"{event.name} failed: {event.full_output.strip()}"))

    async def _discard_partial(self) -> None:
        """A retried stream starts its answer again: what the failed attempt streamed goes, so
        the answer is not shown twice."""
        for cell in (self._answer, self._reasoning):
            if cell is not None:
                await cell.remove()
        self._answer = self._reasoning = None

    async def _other(self, event: BaseModel) -> None:
        from lever.protocol import (
            ChildEvent,
            ChildFinished,
            ChildStarted,
            Compaction,
            ErrorEvent,
            SessionStarted,
            TurnFinished,
        )
        from lever.tools.describe import child_line
        from lever.tui.cells import ErrorCell, NoticeCell

        if isinstance(event, ChildStarted | ChildEvent | ChildFinished):
            line = child_line(event)
            if line is not None:
                await self.add(NoticeCell(line, "child"))
        elif isinstance(event, SessionStarted):
            await self.add(
                NoticeCell(f"lever · {event.model} via {event.provider} · {event.cwd}", "banner")
            )
        elif isinstance(event, Compaction):
            summary = event.summary.strip().splitlines()
            first = summary[0][:100] if summary else ""
            await self.add(NoticeCell(f"context compacted · {first}"))
        elif isinstance(event, ErrorEvent):
            if event.retrying:
                await self._discard_partial()
                await self.add(NoticeCell(f"retry: {event.message}"))
            else:
                await self.add(ErrorCell(f"error: {event.message}"))
        elif isinstance(event, TurnFinished):
            self._answer = self._reasoning = None
            for prompt in self.waiting_prompts:
                prompt.cancelled()
            if event.reason != "done":
                await self.add(NoticeCell(f"stopped ({event.reason}): {event.detail}", "stopped"))
