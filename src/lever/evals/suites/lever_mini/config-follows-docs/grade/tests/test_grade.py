import json

from appcfg.loader import load_config


def test_defaults(tmp_path):
    assert load_config(tmp_path / "none.json", {}) == {
        "host": "127.0.0.1", "port": 8080, "debug": False}


def test_file_then_env(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"port": 9000, "host": "0.0.0.0", "colour": "red"}))
    assert load_config(path, {}) == {"host": "0.0.0.0", "port": 9000, "debug": False}
    env = {"APP_PORT": "9100", "APP_DEBUG": "YES"}
    assert load_config(path, env) == {"host": "0.0.0.0", "port": 9100, "debug": True}


def test_debug_false_words(tmp_path):
    assert load_config(tmp_path / "x", {"APP_DEBUG": "no"})["debug"] is False
    assert load_config(tmp_path / "x", {"APP_DEBUG": "True"})["debug"] is True
