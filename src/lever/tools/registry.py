"""The default tool set of a session."""

from __future__ import annotations

from lever.tools.apply_patch import ApplyPatchTool
from lever.tools.command_limits import CommandLimits
from lever.tools.plan import PlanTool
from lever.tools.processes import ProcessManager
from lever.tools.router import ToolRouter
from lever.tools.shell import ShellTool
from lever.tools.shell_snapshot import ShellSnapshot


def default_tools(
    processes: ProcessManager | None = None,
    *,
    shell_snapshot: ShellSnapshot | bool = True,
    command_limits: CommandLimits | None = None,
) -> ToolRouter:
    """`shell_snapshot`: True takes the login shell's environment once (with the default
    secret filter); False runs string commands as `bash -lc`; or a configured snapshot."""
    snapshot = ShellSnapshot() if shell_snapshot is True else shell_snapshot or None
    processes = processes or ProcessManager(limits=command_limits)
    shell = ShellTool(processes, snapshot=snapshot)
    return ToolRouter([shell, ApplyPatchTool(), PlanTool()])
