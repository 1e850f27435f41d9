class Note:
    def __init__(self, text: str, tags: list[str] = []):
        self.text = text
        self.tags = tags

    def add_tag(self, tag: str) -> None:
        self.tags = merge_tags(self.tags, [tag])


def merge_tags(a: list[str], b: list[str], out: list[str] = []) -> list[str]:
    """Tags of a then b, without repeats."""
    for tag in a + b:
        if tag not in out:
            out.append(tag)
    return out
