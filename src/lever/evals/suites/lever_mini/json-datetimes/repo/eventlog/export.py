import json


def to_json(records: list[dict]) -> str:
    return json.dumps(records, separators=(",", ":"))
