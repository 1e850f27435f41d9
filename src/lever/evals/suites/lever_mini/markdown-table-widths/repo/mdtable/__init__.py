def render(headers: list[str], rows: list[list]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in rows]
    return "\n".join(lines)


def _line(cells, widths) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
