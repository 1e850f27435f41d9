"""The default tool set of a session."""

from __future__ import annotations

from lever.tools.apply_patch import ApplyPatchTool
from lever.tools.plan import PlanTool
from lever.tools.processes import ProcessManager
from lever.tools.router import ToolRouter
from lever.tools.shell import ShellTool


def default_tools(processes: ProcessManager | None = None) -> ToolRouter:
    return ToolRouter([ShellTool(processes or ProcessManager()), ApplyPatchTool(), PlanTool()])
