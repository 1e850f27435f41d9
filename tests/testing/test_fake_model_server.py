"""The fake model server at the HTTP level (with httpx, as lever's own clients see it), its
script handling, and its subprocess mode."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from httpx_sse import connect_sse

from lever.testing.fake_model import FakeModelServer, ScriptError, load_script

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def sse_events(srv: FakeModelServer, path: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    with (
        httpx.Client() as client,
        connect_sse(client, "POST", srv.root_url + path, json={**body, "stream": True}) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.event, event.data) for event in source.iter_sse()]


# --------------------------------------------------------------------------- wire framing


def test_responses_sse_framing() -> None:
    with FakeModelServer(
        [{"text": "abcdef", "tool_calls": [{"name": "t", "arguments": "{}"}]}]
    ) as srv:
        events = sse_events(srv, "/v1/responses", {"model": "m", "input": "x"})
    datas = [json.loads(data) for _, data in events]
    # Every event has an `event:` line naming the same type as its data.
    assert [name for name, _ in events] == [d["type"] for d in datas]
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
    added = [d["item"] for d in datas if d["type"] == "response.output_item.added"]
    assert added[1] == {
        "id": "fc_1",
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": "call_1",
        "name": "t",
    }
    assert datas[-1]["response"]["usage"]["input_tokens_details"] == {"cached_tokens": 0}


def test_chat_sse_framing_ends_with_done() -> None:
    with FakeModelServer([{"text": "hello"}]) as srv:
        events = sse_events(srv, "/v1/chat/completions", CHAT)
    # Chat Completions sends bare `data:` lines (the event name defaults to "message").
    assert {name for name, _ in events} == {"message"}
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert len({c["id"] for c in chunks}) == 1


def test_anthropic_sse_framing() -> None:
    with FakeModelServer([{"tool_calls": [{"name": "t", "arguments": {"a": 1}}]}]) as srv:
        events = sse_events(
            srv, "/v1/messages", {"model": "m", "max_tokens": 5, "messages": CHAT["messages"]}
        )
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    datas = [json.loads(data) for _, data in events]
    assert [d["type"] for d in datas] == names
    start = next(d for d in datas if d["type"] == "content_block_start")
    assert start["content_block"] == {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}
    pieces = [d["delta"]["partial_json"] for d in datas if d["type"] == "content_block_delta"]
    assert pieces[0] == "" and len(pieces) >= 3 and json.loads("".join(pieces)) == {"a": 1}
    assert datas[-2]["delta"]["stop_reason"] == "tool_use"


def test_invalid_json_arguments_are_sent_raw() -> None:
    broken = '{"command": ["ls"'
    with FakeModelServer([{"tool_calls": [{"name": "shell", "arguments": broken}]}] * 2) as srv:
        events = sse_events(srv, "/v1/chat/completions", CHAT)
        pieces = [
            tc["function"].get("arguments", "")
            for _, data in events[:-1]
            for choice in json.loads(data)["choices"]
            for tc in choice["delta"].get("tool_calls", [])
        ]
        assert "".join(pieces) == broken
        message = httpx.post(srv.base_url + "/messages", json={"model": "m", "messages": []})
        assert message.json()["content"][0]["input"] == broken


def test_default_usage_is_estimated_from_sizes() -> None:
    text = "x" * 40
    with FakeModelServer([{"text": text}]) as srv:
        body = {**CHAT, "padding": "p" * 400}
        raw = json.dumps(body).encode()
        reply = httpx.post(
            srv.base_url + "/chat/completions",
            content=raw,
            headers={"content-type": "application/json"},
        )
    usage = reply.json()["usage"]
    assert usage["prompt_tokens"] == len(raw) // 4
    assert usage["completion_tokens"] == len(text) // 4 + 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# --------------------------------------------------------------------------- failures


def test_drop_after_cuts_the_chunked_body() -> None:
    with FakeModelServer([{"text": "hello world", "drop_after": 2}] * 2) as srv:
        got: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError), httpx.Client() as client:
            body = {**CHAT, "stream": True}
            with connect_sse(client, "POST", srv.base_url + "/chat/completions", json=body) as s:
                got.extend(event.data for event in s.iter_sse())
        assert len(got) == 2
        # Non-streaming: the body promised by content-length never fully arrives.
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(srv.base_url + "/chat/completions", json=CHAT)


def test_raw_turn_is_sent_verbatim() -> None:
    raw = "data: {not json}\n\n"
    with FakeModelServer([{"raw": raw}, {"raw": "<html>oops</html>"}]) as srv:
        with httpx.stream(
            "POST", srv.base_url + "/responses", json={"model": "m", "stream": True}
        ) as reply:
            assert reply.status_code == 200
            assert reply.read() == raw.encode()
        with pytest.raises(json.JSONDecodeError):
            openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0).responses.create(
                model="m", input="x"
            )


def test_unparseable_body_and_unknown_path_consume_no_turn() -> None:
    with FakeModelServer([{"text": "ok"}]) as srv:
        bad = httpx.post(srv.base_url + "/responses", content=b"{nope")
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
        missing = httpx.post(srv.base_url + "/completions", json=CHAT)
        assert missing.status_code == 404 and "Invalid URL" in missing.json()["error"]["message"]
        assert srv.turns_used == 0
        ok = httpx.post(srv.base_url + "/chat/completions", json=CHAT)
        assert ok.json()["choices"][0]["message"]["content"] == "ok"
        assert [(r.path, r.status, r.turn) for r in srv.requests] == [
            ("/v1/responses", 400, None),
            ("/v1/completions", 404, None),
            ("/v1/chat/completions", 200, 0),
        ]


def test_anthropic_error_shape_and_key_headers() -> None:
    with FakeModelServer([{"error": {"status": 529, "message": "Overloaded"}}], api_key="K") as srv:
        # Either header works on either endpoint.
        denied = httpx.post(srv.root_url + "/v1/messages", json={}, headers={"x-api-key": "no"})
        assert denied.status_code == 401
        assert denied.json()["error"]["type"] == "authentication_error"
        reply = httpx.post(
            srv.root_url + "/v1/messages",
            json={"model": "m"},
            headers={"authorization": "Bearer K"},
        )
        assert reply.status_code == 529
        assert reply.json()["type"] == "error"
        assert reply.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}
        models = httpx.get(srv.base_url + "/models", headers={"x-api-key": "K"})
        assert models.json()["object"] == "list"


def test_delay_and_stop_do_not_hang() -> None:
    srv = FakeModelServer(
        [{"text": "late", "delay_ms": 150}, {"text": "never", "delay_ms": 60_000}]
    )
    with srv:
        start = time.monotonic()
        reply = httpx.post(srv.base_url + "/chat/completions", json=CHAT)
        assert time.monotonic() - start >= 0.15
        assert reply.json()["choices"][0]["message"]["content"] == "late"
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(srv.base_url + "/chat/completions", json=CHAT, timeout=0.2)
    # Leaving the block stopped the server although a handler was still sleeping.
    with pytest.raises(httpx.ConnectError):
        httpx.post(srv.base_url + "/chat/completions", json=CHAT, timeout=2)


def test_concurrent_requests_each_get_one_turn() -> None:
    turns = [{"text": f"answer {i}"} for i in range(16)]
    answers: list[str] = []
    lock = threading.Lock()
    with FakeModelServer(turns) as srv:

        def ask() -> None:
            reply = httpx.post(srv.base_url + "/chat/completions", json=CHAT)
            with lock:
                answers.append(reply.json()["choices"][0]["message"]["content"])

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.turn for r in srv.requests if r.turn is not None) == list(range(16))
    assert sorted(answers) == sorted(t["text"] for t in turns)


# --------------------------------------------------------------------------- scripts


def test_script_file_with_models(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"turns": [{"text": "hi"}], "models": ["a-model", "b-model"]}))
    with FakeModelServer.from_file(path) as srv:
        ids = [m["id"] for m in httpx.get(srv.base_url + "/models").json()["data"]]
        assert ids == ["a-model", "b-model"]
        reply = httpx.post(srv.base_url + "/chat/completions", json={"messages": []})
        assert reply.json()["model"] == "a-model"  # no model asked for: the first listed


@pytest.mark.parametrize(
    "script",
    [
        [{"txt": "typo"}],
        [{"tool_calls": [{"arguments": {}}]}],
        [{"tool_calls": [{"name": "x", "arguments": 3}]}],
        [{"usage": {"input": 3}}],
        [{"usage": {"input_tokens": "3"}}],
        [{"tool_calls": {"name": "x"}}],
        [{"error": {"message": "no status"}}],
        [{"drop_after": -1}],
        {"turns": [], "model": ["m"]},
        ["not a dict"],
    ],
)
def test_bad_scripts_fail_at_load(script: Any) -> None:
    with pytest.raises(ScriptError):
        load_script(script)


def test_turns_added_later_are_played_after_exhaustion() -> None:
    with FakeModelServer([{"text": "one"}]) as srv:
        url = srv.base_url + "/chat/completions"
        assert httpx.post(url, json=CHAT).status_code == 200
        exhausted = httpx.post(url, json=CHAT)
        assert exhausted.status_code == 400
        assert exhausted.json()["error"]["message"] == "fake model: script exhausted (2 requests)"
        srv.add_turns([{"text": "two"}])
        assert httpx.post(url, json=CHAT).json()["choices"][0]["message"]["content"] == "two"
        assert (srv.turns_used, srv.turns_left) == (2, 0)


def test_script_is_copied_on_load() -> None:
    turns = [{"text": "original"}]
    with FakeModelServer(turns) as srv:
        turns[0]["text"] = "changed"
        reply = httpx.post(srv.base_url + "/chat/completions", json=CHAT)
    assert reply.json()["choices"][0]["message"]["content"] == "original"


# --------------------------------------------------------------------------- subprocess mode


def test_runs_as_a_module(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [{"text": "from a subprocess"}]}))
    command = [sys.executable, "-m", "lever.testing.fake_model", "--script", str(script)]
    proc = subprocess.Popen(
        [*command, "--api-key", "sub-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        if not base_url:  # it died: show why
            proc.wait(timeout=10)
            pytest.fail(
                f"fake model subprocess exited: {proc.stderr.read() if proc.stderr else ''}"
            )
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        client = openai.OpenAI(base_url=base_url, api_key="sub-key", max_retries=0, timeout=10)
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}]
        )
        assert reply.choices[0].message.content == "from a subprocess"
        recorded = httpx.get(base_url.removesuffix("/v1") + "/_fake/requests").json()
        assert len(recorded) == 1
        assert recorded[0]["path"] == "/v1/chat/completions"
        assert recorded[0]["body"]["messages"] == [{"role": "user", "content": "q"}]
        assert recorded[0]["status"] == 200 and recorded[0]["turn"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0  # SIGTERM is a clean shutdown


def test_client_hanging_up_mid_stream_leaves_the_server_healthy() -> None:
    # event_delay_ms slows the stream down so the client can interrupt it, as Ctrl-C would.
    turns = [{"text": "a long answer " * 20, "event_delay_ms": 50}, {"text": "next"}]
    with FakeModelServer(turns) as srv:
        with httpx.Client() as client:
            body = {**CHAT, "stream": True}
            with connect_sse(client, "POST", srv.base_url + "/chat/completions", json=body) as s:
                first = next(s.iter_sse())
            assert json.loads(first.data)["choices"][0]["delta"]["role"] == "assistant"
        reply = httpx.post(srv.base_url + "/chat/completions", json=CHAT)
        assert reply.json()["choices"][0]["message"]["content"] == "next"
