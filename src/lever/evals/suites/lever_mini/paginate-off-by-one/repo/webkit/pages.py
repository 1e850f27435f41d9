def paginate(items: list, page: int, per_page: int) -> list:
    """Items on `page` (1-based)."""
    start = page * per_page
    return items[start:start + per_page]


def page_count(total: int, per_page: int) -> int:
    return total // per_page + 1
