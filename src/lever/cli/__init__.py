"""The `lever` command.

Only argparse is imported at start; each subcommand imports what it needs.
"""
