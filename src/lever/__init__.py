"""lever: a local, shell-native coding agent."""

__version__ = "0.1.0"
