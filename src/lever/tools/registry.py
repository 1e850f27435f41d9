"""The default tool set of a session."""

from __future__ import annotations

from lever.tools.apply_patch import ApplyPatchTool
from lever.tools.plan import PlanTool
from lever.tools.processes import ProcessManager
from lever.tools.router import ToolRouter
from lever.tools.shell import ShellTool
from lever.tools.shell_snapshot import ShellSnapshot


def default_tools(
    processes: ProcessManager | None = None, *, shell_snapshot: ShellSnapshot | bool = True
) -> ToolRouter:
    """`shell_snapshot`: True takes the login shell's environment once (with the default
    secret filter); False runs string commands as `bash -lc`; or a configured snapshot."""
    snapshot = ShellSnapshot() if shell_snapshot is True else shell_snapshot or None
    shell = ShellTool(processes or ProcessManager(), snapshot=snapshot)
    return ToolRouter([shell, ApplyPatchTool(), PlanTool()])
