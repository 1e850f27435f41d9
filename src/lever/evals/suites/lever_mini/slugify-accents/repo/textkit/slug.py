import re


def slugify(title: str) -> str:
    """A lower-case URL slug of `title`."""
    text = title.lower()
    text = re.sub(r"[^a-z0-9 ]", "", text)
    return text.strip().replace(" ", "-")
