"""The request prefix stays byte-stable between compactions, so provider prompt caches hit."""

from __future__ import annotations

import itertools
import json

from lever.agent.limits import Limits
from lever.testing.fake_model import FakeModelServer


def shared_prefix(a: bytes, b: bytes) -> int:
    size = min(len(a), len(b))
    for i in range(size):
        if a[i] != b[i]:
            return i
    return size


def uncached_marks(raw: bytes) -> bytes:
    """Anthropic requests move one `cache_control` mark to the newest block on purpose."""
    body = json.loads(raw)
    for message in body.get("messages", []):
        for block in message["content"] if isinstance(message["content"], list) else []:
            block.pop("cache_control", None)
    return json.dumps(body).encode()


async def test_fifty_steps_share_at_least_99_percent_of_bytes(wire, make_session) -> None:
    step = {"tool_calls": [{"name": "shell", "arguments": {"command": ["echo", "step"]}}]}
    with FakeModelServer([step] * 50 + [{"text": "done"}]) as server:
        session = make_session(server, wire, limits=Limits(max_turns=60))
        finished = await session.run_turn("Run the steps.")
        raws = [r.raw for r in server.requests]
    assert finished.reason == "done" and len(raws) == 51
    if wire == "anthropic":
        raws = [uncached_marks(raw) for raw in raws]
    fractions = [shared_prefix(a, b) / len(a) for a, b in itertools.pairwise(raws)]
    assert min(fractions) >= 0.99, min(fractions)
    if wire == "openai-responses":
        keys = {json.loads(raw)["prompt_cache_key"] for raw in raws}
        assert keys == {session.id}
