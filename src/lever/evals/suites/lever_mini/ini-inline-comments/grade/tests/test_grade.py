from settings.ini import parse_ini

TEXT = """
; top comment
# another
name = demo
[server]
port = 8080  # default
host = example.org ; public
colour = #ff0000
"""


def test_comments():
    assert parse_ini(TEXT) == {
        "": {"name": "demo"},
        "server": {"port": "8080", "host": "example.org", "colour": "#ff0000"},
    }
