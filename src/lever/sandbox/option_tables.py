"""Long options as the programs themselves read them: GNU getopt's unique-prefix rule.

`sort --outp=F` is `sort --output=F`: getopt_long (and git's parse-options) accept any
unambiguous prefix of a long option. So a rule that refuses `--output` must refuse every prefix
of it too. `dangerous_long` does that without trusting the tables to be complete: an argument
that is exactly a known option is that option (an exact match always wins); otherwise it is
refused when it is a prefix of any dangerous option, whatever else it might also abbreviate. A
missing table entry can then only make lever ask more often, never less.

The tables are the programs' real long options (GNU coreutils 9, file 5.44, net-tools
hostname, git 2.39); they name the option an abbreviation stands for in the reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["LONG_OPTIONS", "dangerous_long", "dangerous_short", "resolve_long", "short_letters"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


LONG_OPTIONS: dict[str, frozenset[str]] = {
    "sort": _names(
        "batch-size buffer-size check compress-program debug dictionary-order field-separator "
        "files0-from general-numeric-sort help human-numeric-sort ignore-case "
        "ignore-leading-blanks ignore-nonprinting key merge month-sort numeric-sort output "
        "parallel random-sort random-source reverse sort stable temporary-directory unique "
        "version version-sort zero-terminated"
    ),
    "uniq": _names(
        "all-repeated check-chars count group help ignore-case repeated skip-chars skip-fields "
        "unique version zero-terminated"
    ),
    "date": _names(
        "date debug file help iso-8601 reference resolution rfc-3339 rfc-email set universal "
        "utc uct version"
    ),
    "file": _names(
        "apple brief checking-printout compile debug dereference exclude exclude-quiet "
        "extension files-from help keep-going list magic-file mime mime-encoding mime-type "
        "no-buffer no-dereference no-pad no-sandbox parameter preserve-date print0 raw "
        "separator special-files uncompress uncompress-noreport version"
    ),
    "hostname": _names(
        "alias all-fqdns all-ip-addresses boot domain file fqdn help ip-address long nis "
        "short version yp"
    ),
    # The options of `git diff`/`log`/`show` that matter here, and their near neighbours, so an
    # exact `--text` is not mistaken for an abbreviation of `--textconv`.
    "git-diff": _names(
        "output output-indicator-new output-indicator-old output-indicator-context ext-diff "
        "no-ext-diff textconv no-textconv text stat patch name-only name-status oneline "
        "help"
    ),
}


def resolve_long(arg: str, table: Collection[str]) -> str | None:
    """The option `arg` (`--name` or `--name=value`) stands for in `table` under the
    unique-prefix rule, or None when it is unknown or ambiguous."""
    name = arg[2:].split("=", 1)[0]
    if name in table:
        return name
    hits = [option for option in table if option.startswith(name)]
    return hits[0] if len(hits) == 1 else None


def dangerous_long(arg: str, dangerous: Iterable[str], table: Collection[str] = ()) -> str | None:
    """The dangerous option a long-option argument may stand for, or None when it cannot be
    one. `table` holds the program's exact option names (an exact match wins)."""
    if not arg.startswith("--") or arg == "--":
        return None
    name = arg[2:].split("=", 1)[0]
    dangerous = tuple(dangerous)
    if name in table or name in dangerous:
        return name if name in dangerous else None
    hits = [option for option in dangerous if option.startswith(name)]
    return hits[0] if hits else None


def short_letters(arg: str, valued: str = "") -> tuple[str, bool]:
    """The option letters of a short-option cluster, up to the first letter that takes a value
    (`-k1o` is `-k` with the value "1o"), and whether that value is the next argument."""
    if not arg.startswith("-") or arg.startswith("--") or arg == "-":
        return "", False
    for i, letter in enumerate(arg[1:], 1):
        if letter in valued:
            return arg[1 : i + 1], i == len(arg) - 1
    return arg[1:], False


def dangerous_short(arg: str, letters: str, valued: str = "") -> str | None:
    """The first dangerous letter in a short-option cluster (`-mo` → "o"), or None. Without
    `valued` every letter counts, which can only refuse more."""
    found, _ = short_letters(arg, valued)
    return next((letter for letter in found if letter in letters), None)
