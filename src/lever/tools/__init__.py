"""The agent's tools: shell, apply_patch, update_plan."""
