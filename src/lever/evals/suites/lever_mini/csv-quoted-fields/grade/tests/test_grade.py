from ledger.io import read_rows

DATA = """date,description,amount
2024-01-02,"Coffee, large",3.5
2024-01-03,Rent,-900
2024-01-04,"Book ""Dune"", paperback",12.25
"""


def test_quoted_comma():
    rows = read_rows(DATA)
    assert rows[0] == {"date": "2024-01-02", "description": "Coffee, large", "amount": 3.5}


def test_plain_and_doubled_quotes():
    rows = read_rows(DATA)
    assert rows[1]["amount"] == -900.0
    assert rows[2]["description"] == 'Book "Dune", paperback'
    assert len(rows) == 3
