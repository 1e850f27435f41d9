"""Eval reports in the dashboard: the list, one report (its HTML served under a script-free
CSP), the comparison of two runs, and names that try to leave the reports' folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from .builders import two_reports
from .conftest import raw_request


@pytest.fixture
def reports(home: Path) -> tuple[str, str]:
    return two_reports(home)


async def test_reports_are_listed_newest_first_with_their_figures(authed, reports, home) -> None:
    (home / "evals" / "broken.json").write_text('{"not": "a report"}')
    rows = (await authed.get("/api/evals")).json()
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"before.json", "after.json", "broken.json"}
    assert by_name["after.json"]["pass_at_1"] == 1.0 and by_name["after.json"]["model"] == "model-b"
    assert by_name["before.json"]["passed"] == 3 and by_name["before.json"]["attempts"] == 6
    assert "not a lever eval report" in by_name["broken.json"]["error"]
    assert str(home) not in by_name["broken.json"]["error"]  # no server paths in messages


async def test_one_report_and_its_html(authed, reports) -> None:
    report = (await authed.get("/api/evals/before.json")).json()
    assert [t["id"] for t in report["per_task"]] == ["dates", "docs", "parse"]
    page = await authed.get("/api/evals/before.json/html")
    assert page.status_code == 200 and "<svg" in page.text and "demo-suite" in page.text
    csp = page.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    shell = await authed.get("/e/before.json")
    assert shell.status_code == 200 and 'data-view="eval"' in shell.text


async def test_two_runs_compared(authed, reports) -> None:
    pair = {"a": "before.json", "b": "after.json"}
    c = (await authed.get("/api/evals/compare", params=pair)).json()
    rows = {row["task"]: row for row in c["rows"]}
    assert rows["parse"] == {"task": "parse", "a": 0.0, "b": 1.0, "delta": 1.0}
    assert rows["docs"]["delta"] == 0.0
    assert c["mean_a"] == pytest.approx(0.5) and c["mean_b"] == 1.0
    assert c["delta"] == pytest.approx(0.5) and 0 < c["p"] <= 1
    # Every metric of `lever eval compare`, when the evals package has lever.evals.compare.
    try:
        import lever.evals.compare  # noqa: F401
    except ImportError:
        assert c["metrics"] is None
    else:
        first = c["metrics"][0]
        assert first["name"] == "pass@1" and first["delta"] == pytest.approx(0.5)
        assert first["a"] == pytest.approx(0.5) and 0 < first["p"] <= 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/evals/..%2f..%2fsessions",
        "/api/evals/%2e%2e%2fsecret.json",
        "/api/evals/../secret.json",
        "/api/evals/link.json",
        "/api/evals/link.json/html",
        "/api/evals/nothere.json",
        "/api/evals/before.txt",
        "/e/..%2fsecret.json",
    ],
)
async def test_traversal_and_links_out_are_404(app, gate, reports, home, path) -> None:
    secret = home / "secret.json"
    secret.write_text((home / "evals" / "before.json").read_text())  # a valid report, outside
    link = home / "evals" / "link.json"
    if not link.exists():
        link.symlink_to(secret)
    headers = {"host": "127.0.0.1:8765", "authorization": f"Bearer {gate.token}"}
    status, body = await raw_request(app, "GET", path, headers)
    assert status == 404, body
    assert b"demo-suite" not in body


async def test_compare_with_a_name_outside_is_404(authed, reports) -> None:
    response = await authed.get("/api/evals/compare", params={"a": "../x.json", "b": "after.json"})
    assert response.status_code == 404


async def test_no_reports_folder_is_an_empty_list(authed) -> None:
    assert (await authed.get("/api/evals")).json() == []
