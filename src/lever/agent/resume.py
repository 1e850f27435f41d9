"""Rebuild a session's state from its rollout: the history exactly as the model last saw it.

Items are appended as they were recorded; a compaction replaces the history with what it kept.
A turn with no `turn_finished` after its last person message was cut short (a crash, a kill).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lever.agent.harness_messages import is_person_message
from lever.agent.state import WorkState
from lever.protocol import (
    ChildStarted,
    Compaction,
    Event,
    ItemAdded,
    SessionStarted,
    TurnFinished,
)
from lever.protocol.items import Item


@dataclass
class Replayed:
    started: SessionStarted
    history: list[Item] = field(default_factory=list)
    state: WorkState = field(default_factory=WorkState)
    #: The last turn began but never finished: resume continues it.
    open_turn: bool = False
    last_seq: int = 0
    #: For a fork: written right after session_started so the new rollout holds the history.
    seed: Compaction | None = None
    #: The provider's context window learned from its errors (see lever.agent.overflow).
    context_window: int | None = None
    #: Sub-agents started (`child_started`): a resumed session's count goes on from here, so
    #: `[subagents] max_total` holds across resumes.
    children: int = 0


class RolloutError(ValueError):
    """The rollout cannot be resumed (empty, or not a lever session)."""


def as_fork(replayed: Replayed, session_id: str, source_id: str) -> Replayed:
    """Turn a replayed session into the start of a fork with its own id.

    The fork's rollout must stand alone: it begins with the whole history as one compaction
    event, and numbers its own events from 1. It has no open turn to continue.
    """
    at = replayed.last_seq
    # A fork is the person's own session, even of a sub-agent's: no parent, no children yet
    # (its rollout records none of the source's `child_started` events).
    unlinked = {"session_id": session_id, "parent_id": None, "parent_call_id": None, "depth": None}
    replayed.started = replayed.started.model_copy(update=unlinked)
    replayed.children = 0
    replayed.seed = Compaction(
        summary=f"forked from {source_id} at event {at}", kept=list(replayed.history)
    )
    replayed.last_seq = 0
    replayed.open_turn = False
    return replayed


def replay(events: Iterable[Event], *, until_seq: int | None = None) -> Replayed:
    """Fold the events (up to and including `until_seq`) into the session's state."""
    replayed: Replayed | None = None
    for event in events:
        if until_seq is not None and event.seq > until_seq:
            break
        if isinstance(event, SessionStarted):
            if replayed is None:
                replayed = Replayed(started=event)
            replayed.last_seq = event.seq
            continue
        if replayed is None:
            raise RolloutError("the rollout does not begin with session_started")
        replayed.last_seq = event.seq
        replayed.state.observe(event)
        if isinstance(event, ItemAdded):
            replayed.history.append(event.item)
            if is_person_message(event.item):
                replayed.open_turn = True
        elif isinstance(event, Compaction):
            replayed.history = list(event.kept)
            replayed.context_window = event.context_window or replayed.context_window
        elif isinstance(event, TurnFinished):
            replayed.open_turn = False
        elif isinstance(event, ChildStarted):
            replayed.children += 1
    if replayed is None:
        raise RolloutError("the rollout is empty")
    return replayed
