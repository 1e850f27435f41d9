def read_rows(text: str) -> list[dict]:
    """Rows of a CSV export (header: date,description,amount) as dicts."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split(",")
    rows = []
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        row["amount"] = float(row["amount"])
        rows.append(row)
    return rows
