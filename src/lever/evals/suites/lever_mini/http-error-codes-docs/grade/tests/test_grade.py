from apierr import status_for


def test_table():
    assert [status_for(c) for c in (
        "invalid", "unauthorized", "forbidden", "not_found", "conflict", "rate_limited")] == [
        400, 401, 403, 404, 409, 429]


def test_case_and_unknown():
    assert status_for("NOT_FOUND") == 404
    assert status_for("teapot") == 500
