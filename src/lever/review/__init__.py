"""Code review of a diff (DESIGN.md §7): collect the diff, let a read-only session review it,
parse and check its findings.

- `diff`: what to review (`--uncommitted`, `--base BRANCH`, `--commit SHA`) and the line counts
  of the files in their new version;
- `findings`: the `Finding` / `Review` models, parsing the model's final answer, and dropping
  findings that point outside the diff;
- `run`: the review session itself.
"""
