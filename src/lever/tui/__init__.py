"""The interactive terminal app (DESIGN.md §7): Textual on top of the session's event stream.

Importing this package imports Textual; `lever.cli` imports it only when the app starts.
"""
