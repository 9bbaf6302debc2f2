"""The SQL page over HTTP, signed in: the dialect and the views named, a query's result
as a table, a chart and a CSV download, the query's errors shown plainly, and values
escaped like every page's."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.web.conftest import PASSWORD, Seeded

BY_DAY = (
    "SELECT date_trunc('day', start_time) AS day, count(*) AS sessions FROM sessions GROUP BY 1"
)


@pytest.fixture(scope="module")
def client(web: Seeded) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as signed_in:
        form = signed_in.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        answer = signed_in.post(
            "/signin", data={"email": web.email, "password": PASSWORD, "csrf": token[1]}
        )
        assert answer.status_code == 303
        yield signed_in


@pytest.fixture(scope="module")
def project(web: Seeded) -> str:
    """The module's project's pages (its sessions are the seeded ones, and only them)."""
    return f"/p/{web.project}"


def _cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.findall(r"<td>(.*?)</td>", row, re.S)
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_page_names_the_dialect_and_the_views(client: httpx.Client, project: str) -> None:
    page = client.get(f"{project}/sql")
    assert page.status_code == 200, page.text
    assert 'aria-current="page">SQL</a>' in page.text
    assert "Read-only DuckDB SQL" in page.text
    for view in ("sessions", "traces", "spans", "scores"):
        assert f"<summary><code>{view}</code></summary>" in page.text
    assert "<code>duration_ms</code>" in page.text
    assert "data-sql-result" not in page.text  # nothing runs until asked


def test_a_query_shows_the_lists_rows_a_chart_and_a_csv(
    client: httpx.Client, web: Seeded, project: str
) -> None:
    sessions = web.server.api("/api/v1/sessions", key=web.key, limit=200)["items"]
    page = client.get(f"{project}/sql", params={"q": BY_DAY})
    assert page.status_code == 200, page.text
    rows = _cells(page.text)
    assert sum(int(count) for _, count in rows) == len(sessions)
    assert "data-sql-error" not in page.text
    download = client.get(f"{project}/sql", params={"q": BY_DAY, "format": "csv"})
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0] == ["day", "sessions"]
    assert sum(int(count) for _, count in table[1:]) == len(sessions)
    durations = client.get(
        f"{project}/sql", params={"q": "SELECT start_time, duration_ms FROM traces"}
    )
    assert "<svg" in durations.text and "duration_ms by start_time" in durations.text


def test_an_error_is_shown_plainly_and_values_are_escaped(
    client: httpx.Client, web: Seeded, project: str
) -> None:
    refused = client.get(f"{project}/sql", params={"q": "SELECT * FROM read_csv('/etc/passwd')"})
    assert refused.status_code == 200
    assert 'role="alert" data-sql-error>The table function' in refused.text
    assert "is not allowed" in refused.text and "root:" not in refused.text
    two = client.get(f"{project}/sql", params={"q": "SELECT 1; SELECT 2"})
    assert "Only one SELECT statement is allowed" in two.text
    session = web.xss_session.replace("'", "''")
    xss = client.get(
        f"{project}/sql",
        params={"q": f"SELECT input_preview FROM traces WHERE session_id = '{session}'"},
    )
    assert "&lt;script&gt;" in xss.text or "&lt;img" in xss.text
    assert "<script>alert" not in xss.text and "<img src=x" not in xss.text


def test_a_query_is_saved_listed_run_and_deleted(
    client: httpx.Client, web: Seeded, project: str
) -> None:
    """Save the query shown under a name (the page's form, with its CSRF token): it is
    listed as a link that runs it, in the JSON API too; Delete removes it. Without the
    token the form is refused."""
    shown = client.get(f"{project}/sql", params={"q": BY_DAY})
    token = re.search(r'name="csrf" value="([^"]+)"', shown.text)
    assert token is not None
    form = {"csrf": token[1], "q": BY_DAY, "name": "Sessions by day"}
    forged = client.post(f"{project}/sql", data={**form, "csrf": "nope"})
    assert forged.status_code == 403
    saved = client.post(f"{project}/sql", data=form)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert 'data-saved="Sessions by day"' in page.text and "data-sql-result" in page.text
    listed = client.get("/api/v1/sql/queries", params={"project": web.project}).json()["items"]
    assert [(q["name"], q["query"]) for q in listed] == [("Sessions by day", BY_DAY)]
    assert listed[0]["author"] and listed[0]["saved_at"].endswith("Z")
    link = re.search(r'data-saved="Sessions by day"><a href="([^"]+)"', page.text)
    assert link is not None
    ran = client.get(f"{project}/sql" + link[1].replace("&amp;", "&"))
    assert _cells(ran.text) == _cells(page.text)
    gone = client.post(f"{project}/sql", data={**form, "action": "delete"})
    assert gone.status_code == 303
    assert client.get("/api/v1/sql/queries", params={"project": web.project}).json()["items"] == []
    assert 'data-saved="Sessions by day"' not in client.get(f"{project}/sql").text


def test_a_pinned_query_is_drawn_on_the_dashboard(
    client: httpx.Client, web: Seeded, project: str
) -> None:
    """Saved with 'Pin its chart to the Dashboard': the Dashboard draws its result under
    its name; one without a time and a number column says so; unpinned, neither shows."""
    page = client.get(f"{project}/sql")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    durations = "SELECT start_time, duration_ms FROM traces"
    names = "SELECT name FROM traces"
    for name, text in (("Trace durations", durations), ("Trace names", names)):
        form = {"csrf": token[1], "q": text, "name": name, "pinned": "on"}
        assert client.post(f"{project}/sql", data=form).status_code == 303
    saved = client.get("/api/v1/sql/queries", params={"project": web.project}).json()["items"]
    listed = {q["name"]: q["pinned"] for q in saved}
    assert listed == {"Trace durations": True, "Trace names": True}
    dashboard = client.get(f"{project}/dashboard")
    assert dashboard.status_code == 200
    section = dashboard.text.split("Pinned SQL queries", 1)[1]
    assert re.search(r'chart-title">Trace durations</span>.*?<svg', section, re.S)
    assert "Trace names</a>" in section and "no time column and number column" in section
    for name in ("Trace durations", "Trace names"):
        form = {"csrf": token[1], "name": name, "action": "delete"}
        assert client.post(f"{project}/sql", data=form).status_code == 303
    assert "Pinned SQL queries" not in client.get(f"{project}/dashboard").text
