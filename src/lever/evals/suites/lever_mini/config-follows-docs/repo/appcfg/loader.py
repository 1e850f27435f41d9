import json
from pathlib import Path


def load_config(path: Path, environ: dict[str, str]) -> dict:
    """The effective configuration (see docs/CONFIGURATION.md)."""
    config = {"port": 8000, "host": "localhost", "debug": False}
    if path.exists():
        config.update(json.loads(path.read_text()))
    return config
