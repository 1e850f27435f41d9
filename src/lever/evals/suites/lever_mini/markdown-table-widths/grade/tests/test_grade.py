from mdtable import render


def test_header_wider_than_cells():
    assert render(["name", "quantity"], [["apple", 3], ["fig", 12]]).splitlines() == [
        "| name  | quantity |",
        "| ----- | -------- |",
        "| apple | 3        |",
        "| fig   | 12       |",
    ]
