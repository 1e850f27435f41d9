import datetime as dt

import pytest

from eventlog.export import to_json


def test_datetimes():
    naive = dt.datetime(2024, 5, 1, 12, 30)
    aware = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    records = [{"b": 1, "a": naive}, {"when": aware, "day": dt.date(2024, 5, 2)}]
    assert to_json(records) == (
        '[{"b":1,"a":"2024-05-01T12:30:00"},'
        '{"when":"2024-05-01T12:30:00+02:00","day":"2024-05-02"}]'
    )


def test_other_objects_still_fail():
    with pytest.raises(TypeError):
        to_json([{"x": object()}])
