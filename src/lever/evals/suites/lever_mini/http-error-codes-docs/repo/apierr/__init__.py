STATUS = {
    "not_found": 404,
    "invalid": 400,
    "conflict": 400,
}


def status_for(code: str) -> int:
    return STATUS[code]
