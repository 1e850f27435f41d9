"""The project's standing context: AGENTS.md files, skills and (later) project memory."""
