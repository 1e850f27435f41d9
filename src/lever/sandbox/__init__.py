"""Sandboxing of commands and confinement of paths."""
