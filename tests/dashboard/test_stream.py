"""The event stream's cost: an idle rollout is stat-ed, not read; followers of one rollout share
one watch (one read per change, whatever the number of pages); an event after a long pause
still arrives quickly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lever.dashboard import stream
from lever.dashboard.stream import RolloutTail, StreamHub, follow
from lever.protocol import AssistantMessage, ItemAdded
from lever.store.rollout import RolloutWriter

from .conftest import recorded_events


@pytest.fixture(autouse=True)
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Followers notice `disconnected()` within 0.5 s (not 5 s): the tests end sooner."""
    monkeypatch.setattr(stream, "CHECK_SECONDS", 0.5)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every read of a rollout by the stream, by path."""
    done: list[Path] = []
    original = RolloutTail.read_new

    def counted(self: RolloutTail) -> list[str]:
        done.append(self.path)
        return original(self)

    monkeypatch.setattr(RolloutTail, "read_new", counted)
    return done


class Follower:
    """One page following a rollout: the sequence numbers it got, and when."""

    def __init__(self, path: Path, hub: StreamHub | None = None) -> None:
        self.seen: list[tuple[int, float]] = []
        self.gone = asyncio.Event()
        self.task = asyncio.create_task(self._consume(follow(path, 0, self._gone, hub=hub)))

    async def _gone(self) -> bool:
        return self.gone.is_set()

    async def _consume(self, messages: AsyncIterator[str]) -> None:
        async for message in messages:
            if message.startswith("id: "):
                self.seen.append((int(message.split("\n")[0][4:]), time.monotonic()))

    async def wait_for(self, seq: int, timeout: float = 5.0) -> float:
        for _ in range(int(timeout / 0.01)):
            for got, when in self.seen:
                if got == seq:
                    return when
            await asyncio.sleep(0.01)
        raise AssertionError(f"event {seq} never arrived: {self.seen}")

    async def stop(self) -> None:
        self.gone.set()
        await asyncio.wait_for(self.task, stream.CHECK_SECONDS + 2)


def rollout(tmp_path: Path, count: int) -> RolloutWriter:
    writer = RolloutWriter(tmp_path / "rollout-x.jsonl")
    for event in recorded_events(tmp_path)[:count]:
        writer.append(event)
    return writer


async def test_an_idle_stream_does_not_reread_the_rollout(tmp_path, reads) -> None:
    writer = rollout(tmp_path, 3)
    follower = Follower(writer.path)
    await follower.wait_for(3)
    at_rest = len(reads)
    await asyncio.sleep(1.5)  # the old stream read the file every 200 ms: 7 reads here
    assert len(reads) == at_rest
    writer.append(ItemAdded(seq=4, item=AssistantMessage(text="after a pause")))
    await follower.wait_for(4)
    assert len(reads) == at_rest + 1  # read once, when it changed
    await follower.stop()
    writer.close()
    assert [seq for seq, _ in follower.seen] == [1, 2, 3, 4]


async def test_followers_of_one_rollout_share_one_watch(tmp_path, reads) -> None:
    writer = rollout(tmp_path, 2)
    hub = StreamHub()
    followers = [Follower(writer.path, hub) for _ in range(5)]
    for follower in followers:
        await follower.wait_for(2)
    assert list(hub.watches) == [writer.path]
    joined = len(reads)  # each follower read what was written when it joined
    for seq in (3, 4, 5):
        writer.append(ItemAdded(seq=seq, item=AssistantMessage(text=f"event {seq}")))
        for follower in followers:
            await follower.wait_for(seq)
    assert len(reads) - joined <= 3  # one read per change, not one per follower
    await asyncio.gather(*(follower.stop() for follower in followers))
    for follower in followers:
        assert [seq for seq, _ in follower.seen] == [1, 2, 3, 4, 5]
    assert hub.watches == {}  # the last one gone: the watch stops
    writer.close()


async def test_an_event_after_a_long_pause_arrives_within_the_slowest_check(tmp_path) -> None:
    writer = rollout(tmp_path, 1)
    follower = Follower(writer.path)
    await follower.wait_for(1)
    await asyncio.sleep(4)  # backed off to the slowest check (after about 2.5 s)
    written = time.monotonic()
    writer.append(ItemAdded(seq=2, item=AssistantMessage(text="late")))
    arrived = await follower.wait_for(2)
    assert arrived - written < stream.POLL_MAX_SECONDS + 1.0  # + scheduling on a loaded machine
    await follower.stop()
    writer.close()
