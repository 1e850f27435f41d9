def parse_bool(text: str) -> bool:
    return bool(text)
