"""The console's pages through an HTTP client: sign-in (its own CSRF token), the mail's
link landing on the alert after sign-in, the inbox and its filters, the alert page and
its actions, refused without the form's token, bulk acknowledgement of technical alerts
only, the evidence bundle download."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from starlette.testclient import TestClient

from monitord.store.tables import AuditRow
from monitord.web import casefile
from tests.monitord.web.school import PASSWORD, Console


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def sign_in(
    console: Console, username: str, target: str = "/alerts", status: int = 200
) -> tuple[TestClient, str]:
    """A client signed in as ``username``, on ``target`` (answered with ``status``), and the
    session's CSRF token read from that page."""
    c = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    form = c.get(f"/signin?next={target}")
    assert form.status_code == 200
    r = c.post(
        "/signin",
        data={
            "csrf": token(form.text),
            "next": target,
            "username": username,
            "password": PASSWORD,
            "totp": console.code(username),
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == target
    page = c.get(target)
    assert page.status_code == status
    return c, token(page.text)


def test_the_mails_link_asks_for_sign_in_then_lands_on_the_alert(console: Console) -> None:
    alice = console.alert["alice.p"]
    c = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    r = c.get(f"/alerts/{alice}")
    assert r.status_code == 303
    assert r.headers["location"] == f"/signin?next=/alerts/{alice}"
    c, _ = sign_in(console, "dep", f"/alerts/{alice}")
    page = c.get(f"/alerts/{alice}").text
    assert "Alice Pupil" in page
    assert "Pupil, Year 5, class Oak · alice.p" in page
    assert "LAP-ALICE" in page
    assert "pornhub.com" in page
    # What matched, on which list and in which version of it.
    assert re.search(
        r"is on the list <strong>starter/pornography</strong> "
        r"\(version <code>[0-9a-f]{12}</code>\)",
        page,
    )


def test_the_sign_in_form_needs_its_own_token(console: Console) -> None:
    c = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    c.get("/signin")
    fields = {"username": "dep", "password": PASSWORD, "totp": console.code("dep")}
    r = c.post("/signin", data={**fields, "csrf": "forged"})
    assert r.status_code == 403
    assert "monitord_session" not in r.cookies


def test_a_wrong_code_is_refused_on_the_page(console: Console) -> None:
    c = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    form = c.get("/signin")
    r = c.post(
        "/signin",
        data={"csrf": token(form.text), "username": "dep", "password": PASSWORD, "totp": "000000"},
    )
    assert r.status_code == 401
    assert "wrong user name, password or code" in r.text


def test_the_inbox_most_severe_first_and_filtered(console: Console) -> None:
    c, _ = sign_in(console, "dep")
    page = c.get("/alerts").text
    ids = [int(x) for x in re.findall(r'href="/alerts/(\d+)"', page)]
    # pornography (high) about four people, then the medium unauthorised device.
    assert ids[-1] == console.alert["device"]
    assert set(ids) == set(console.alert.values())
    page = c.get("/alerts?year_group=5").text
    assert re.findall(r'href="/alerts/(\d+)"', page) == [str(console.alert["alice.p"])]
    page = c.get("/alerts?category=unauthorised_device").text
    assert re.findall(r'href="/alerts/(\d+)"', page) == [str(console.alert["device"])]
    assert c.get("/alerts?date=yesterday").status_code == 400


def test_actions_on_the_alert_page(console: Console) -> None:
    alice = console.alert["alice.p"]
    c, csrf = sign_in(console, "dep", f"/alerts/{alice}")
    r = c.post(f"/alerts/{alice}/ack", data={"csrf": csrf})
    assert (r.status_code, r.headers["location"]) == (303, f"/alerts/{alice}?done=ack")
    c.post(f"/alerts/{alice}/note", data={"csrf": csrf, "text": "Spoke to Alice and her mum"})
    c.post(f"/alerts/{alice}/assign", data={"csrf": csrf, "assignee": "dep"})
    c.post(f"/alerts/{alice}/escalate", data={"csrf": csrf, "severity": "critical", "reason": "x"})
    r = c.post(f"/alerts/{alice}/close", data={"csrf": csrf, "outcome": "no_concern"})
    assert r.status_code == 409  # critical now: a second review first
    assert "second reviewer" in r.text
    page = c.get(f"/alerts/{alice}").text
    assert "Spoke to Alice and her mum" in page
    assert "Sign the second review" not in page  # dep is the first reviewer
    [row] = console.school.alerts(id=alice)
    assert (row["status"], row["severity"], row["assignee"]) == ("acknowledged", "critical", "dep")
    head, head_csrf = sign_in(console, "helen.h", f"/alerts/{alice}")
    assert "Sign the second review (first: dep)" in head.get(f"/alerts/{alice}").text
    head.post(f"/alerts/{alice}/review", data={"csrf": head_csrf})
    r = c.post(f"/alerts/{alice}/close", data={"csrf": csrf, "outcome": "no_concern"})
    assert r.status_code == 303
    c.post(f"/alerts/{alice}/reopen", data={"csrf": csrf, "reason": "new report from class"})
    [row] = console.school.alerts(id=alice)
    assert (row["status"], row["outcome"], row["reviewer"]) == ("open", None, None)
    history = [
        (a["actor"], a["action"])
        for a in console.school.rows(AuditRow, subject=f"alert:{alice}")
        if a["action"] != "alert.view"
    ]
    assert history[-7:] == [
        ("dep", "alert.ack"),
        ("dep", "alert.note"),
        ("dep", "alert.assign"),
        ("dep", "alert.escalate"),
        ("helen.h", "alert.review"),
        ("dep", "alert.close"),
        ("dep", "alert.reopen"),
    ]


def test_a_form_without_its_token_changes_nothing(console: Console) -> None:
    alice = console.alert["alice.p"]
    c, _ = sign_in(console, "dep")
    r = c.post(f"/alerts/{alice}/ack", data={"csrf": "forged"})
    assert r.status_code == 403
    assert console.school.audit("alert.ack") == []


def test_bulk_acknowledge_takes_technical_alerts_only(console: Console) -> None:
    c, csrf = sign_in(console, "dep")
    ids = [str(console.alert["device"]), str(console.alert["alice.p"])]
    r = c.post("/alerts/ack", data={"csrf": csrf, "alert": ids})
    assert r.status_code == 303
    acked = [a["subject"] for a in console.school.audit("alert.ack")]
    assert acked == [f"alert:{console.alert['device']}"]


def test_a_governor_is_refused_a_pupils_alert(console: Console) -> None:
    c = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    form = c.get("/signin")
    c.post(
        "/signin",
        data={"csrf": token(form.text), "username": "gov", "password": PASSWORD,
              "totp": console.code("gov")},
    )  # fmt: skip
    r = c.get(f"/alerts/{console.alert['alice.p']}")
    assert r.status_code == 403
    assert "Alice" not in r.text
    assert console.school.audit("alert.view") == []


def test_the_evidence_bundle_downloads_encrypted(console: Console) -> None:
    alice = console.alert["alice.p"]
    c, csrf = sign_in(console, "dep", f"/alerts/{alice}")
    assert (
        c.post(f"/alerts/{alice}/export", data={"csrf": csrf, "password": "short"}).status_code
        == 400
    )
    r = c.post(f"/alerts/{alice}/export", data={"csrf": csrf, "password": "a long password"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "manifest.json" in names
    [record] = console.school.audit("alert.export")
    assert record["actor"] == "dep"


def test_the_inbox_a_page_at_a_time(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(casefile, "PAGE", 4)
    c, _ = sign_in(console, "dep")
    first = c.get("/alerts").text
    assert "6 open alerts" in first
    assert "Page 1 of 2" in first
    ids = re.findall(r'href="/alerts/(\d+)"', first)
    assert len(ids) == 4
    found = re.search(r'href="(/alerts\?[^"]*page=2[^"]*)"', first)
    assert found is not None
    second = c.get(found.group(1).replace("&amp;", "&")).text
    more = re.findall(r'href="/alerts/(\d+)"', second)
    assert len(more) == 2
    assert more[-1] == str(console.alert["device"])  # medium: the least urgent, last
    assert set(ids) | set(more) == {str(i) for i in console.alert.values()}
