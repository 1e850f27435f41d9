"""The session API and the event stream, over the real ASGI app and real rollout files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from lever.dashboard.stream import RolloutTail, follow
from lever.protocol import AssistantMessage, ItemAdded, event_to_json
from lever.store.rollout import RolloutWriter, read_rollout

from .conftest import SESSION_ID, XSS_ANSWER, recorded_events, write_session


def parse_sse(text: str) -> list[tuple[int, dict[str, Any]]]:
    messages = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            assert fields["event"] == "lever"
            messages.append((int(fields["id"]), json.loads(fields["data"])))
    return messages


async def test_the_session_list_comes_from_the_index(authed, project) -> None:
    rows = (await authed.get("/api/sessions")).json()
    assert [r["id"] for r in rows] == [SESSION_ID]
    row = rows[0]
    assert row["cwd"] == str(project) and row["status"] == "done"
    assert row["title"] == "fix <the> bug"
    assert row["input_tokens"] == 100 and "path" not in row  # no file paths to the browser


async def test_search_and_filters(authed, home, tmp_path) -> None:
    other = recorded_events(tmp_path, answer="nothing to see")
    for event in other:
        if event.type == "session_started":
            event.session_id = "20261201T130000-def456"
        if event.type == "turn_finished":
            event.reason = "interrupted"
    write_session(home, other)

    async def ids(**params: str) -> list[str]:
        return [r["id"] for r in (await authed.get("/api/sessions", params=params)).json()]

    assert len(await ids()) == 2
    assert await ids(q="onerror") == [SESSION_ID]  # full-text search over the answers
    assert await ids(status="interrupted") == ["20261201T130000-def456"]
    assert await ids(cwd=str(tmp_path)) == ["20261201T130000-def456"]
    assert await ids(q="bug", status="done") == [SESSION_ID]
    assert await ids(q='"-) OR *') == []  # FTS syntax is not an injection point
    projects = (await authed.get("/api/projects")).json()
    assert set(projects) == {str(tmp_path), str(tmp_path / "project")}


async def test_events_replay_the_rollout_through_the_one_serializer(authed, home) -> None:
    response = await authed.get(f"/api/sessions/{SESSION_ID}/events", params={"follow": "0"})
    assert response.headers["content-type"].startswith("text/event-stream")
    messages = parse_sse(response.text)
    assert [seq for seq, _ in messages] == list(range(1, 10))
    (rollout,) = home.glob("sessions/*/*/*/rollout-*.jsonl")
    assert [data for _, data in messages] == [
        json.loads(event_to_json(event)) for event in read_rollout(rollout)
    ]
    answer = next(d for _, d in messages if d.get("item", {}).get("type") == "assistant_message")
    assert answer["item"]["text"] == XSS_ANSWER  # data, as JSON: the page renders it as text


async def test_last_event_id_resumes_after_that_sequence(authed) -> None:
    url = f"/api/sessions/{SESSION_ID}/events?follow=0"
    resumed = parse_sse((await authed.get(url, headers={"Last-Event-ID": "6"})).text)
    assert [seq for seq, _ in resumed] == [7, 8, 9]
    by_query = parse_sse((await authed.get(url + "&after=8")).text)
    assert [seq for seq, _ in by_query] == [9]


async def test_unknown_and_malformed_session_ids_are_404(authed) -> None:
    for sid in ("20990101T000000-000000", "..", "a*", "x" * 80):
        response = await authed.get(f"/api/sessions/{sid}/events", params={"follow": "0"})
        assert response.status_code == 404, sid


async def test_the_session_page_is_a_shell_without_session_text(authed) -> None:
    """The transcript is not in the HTML at all: the page script renders events as text."""
    page = (await authed.get(f"/s/{SESSION_ID}")).text
    assert f'data-session="{SESSION_ID}"' in page
    assert "onerror" not in page and "__pwned" not in page
    assert (await authed.get("/s/<script>")).status_code == 404


def test_the_tail_waits_for_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    line = event_to_json(ItemAdded(seq=1, item=AssistantMessage(text="hé"))) + "\n"
    data = line.encode()
    tail = RolloutTail(path)
    assert tail.read_new() == []  # not created yet
    path.write_bytes(data[:10])
    assert tail.read_new() == []
    with path.open("ab") as f:
        f.write(data[10:] + data)
    assert tail.read_new() == [line.rstrip("\n")] * 2


async def test_follow_streams_what_is_appended_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lever.dashboard.stream.CHECK_SECONDS", 0.5)  # `gone` seen sooner
    events = recorded_events(tmp_path)
    writer = RolloutWriter(tmp_path / "rollout-x.jsonl")
    for event in events[:3]:
        writer.append(event)
    gone = asyncio.Event()

    async def disconnected() -> bool:
        return gone.is_set()

    seen: list[int] = []
    stream = follow(writer.path, 1, disconnected)

    async def consume() -> None:
        async for message in stream:
            seen.extend(seq for seq, _ in parse_sse(message))

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.5)
    assert seen == [2, 3]  # after=1: the first is skipped
    for event in events[3:]:
        writer.append(event)
        await asyncio.sleep(0.05)
    writer.append(events[4])  # a duplicate sequence number is not sent twice
    await asyncio.sleep(0.6)
    gone.set()
    await asyncio.wait_for(consumer, 3)
    writer.close()
    assert seen == list(range(2, 10))
