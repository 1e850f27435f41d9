from typing import Any

from lever.protocol import PlanUpdated, ToolCall
from lever.protocol.tools import ToolSchema
from lever.tools.base import ToolContext, ToolResult
from lever.tools.plan import PlanTool
from lever.tools.router import ToolRouter


class Echo:
    schema = ToolSchema("echo", "echo", {"type": "object"})

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return ToolResult(repr(args))


class Broken:
    schema = ToolSchema("broken", "always raises", {"type": "object"})

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        raise RuntimeError("boom")


def call(name: str, arguments: str) -> ToolCall:
    return ToolCall(call_id="c1", name=name, arguments=arguments)


async def test_runs_the_named_tool(tmp_path) -> None:
    router = ToolRouter([Echo()])
    result = await router.run(call("echo", '{"x": 1}'), ToolContext(cwd=tmp_path))
    assert (result.output, result.is_error) == ("{'x': 1}", False)


async def test_invalid_json_is_an_error_for_the_model(tmp_path) -> None:
    result = await ToolRouter([Echo()]).run(call("echo", '{"x": '), ToolContext(cwd=tmp_path))
    assert result.is_error
    assert "not valid JSON" in result.output and "line 1" in result.output


async def test_non_object_arguments_are_refused(tmp_path) -> None:
    result = await ToolRouter([Echo()]).run(call("echo", "[1]"), ToolContext(cwd=tmp_path))
    assert result.is_error and "must be a JSON object" in result.output


async def test_unknown_tool_lists_the_available_ones(tmp_path) -> None:
    result = await ToolRouter([Echo(), Broken()]).run(call("nope", "{}"), ToolContext(cwd=tmp_path))
    assert result.is_error
    assert result.output == "error: unknown tool 'nope'. Available tools: echo, broken."


async def test_a_tool_that_raises_becomes_an_error(tmp_path) -> None:
    result = await ToolRouter([Broken()]).run(call("broken", ""), ToolContext(cwd=tmp_path))
    assert result.is_error and "RuntimeError: boom" in result.output


async def test_update_plan_emits_and_keeps_the_plan(tmp_path) -> None:
    events: list[Any] = []
    tool = PlanTool()
    plan = [{"step": "a", "status": "completed"}, {"step": "b", "status": "in_progress"}]
    result = await tool.run(
        {"plan": plan, "explanation": "why"}, ToolContext(cwd=tmp_path, emit=events.append)
    )
    assert not result.is_error
    assert [s.step for s in tool.plan] == ["a", "b"]
    assert isinstance(events[0], PlanUpdated) and events[0].explanation == "why"


async def test_update_plan_rejects_bad_plans(tmp_path) -> None:
    tool = PlanTool()
    ctx = ToolContext(cwd=tmp_path)
    two = [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]
    assert (await tool.run({"plan": two}, ctx)).is_error
    bad = await tool.run({"plan": [{"step": "a", "status": "done"}]}, ctx)
    assert bad.is_error and "plan.0.status" in bad.output
    assert tool.plan == []


def test_read_only_calls_are_known_safe_shell_commands_only() -> None:
    router = ToolRouter([Echo()])
    assert router.is_read_only(call("shell", '{"command": "rg -n foo src | head"}'))
    assert router.is_read_only(call("shell", '{"command": ["git", "status"]}'))
    assert not router.is_read_only(call("shell", '{"command": "rm -rf build"}'))
    assert not router.is_read_only(call("shell", '{"command": "ls", "process_id": "p1"}'))
    assert not router.is_read_only(call("shell", '{"command": "cat a > b"}'))
    assert not router.is_read_only(call("shell", "{bad json"))
    assert not router.is_read_only(call("apply_patch", '{"input": ""}'))
