"""The review page as a WSGI app, with requests made in-process (no socket)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

import pytest

from auditor.models import Decision
from auditor.review import decide, latest_decisions
from auditor.review.web import ReviewApp, make_review_server
from auditor.store import Store

from .test_review_fixtures import ID_NUMBER, fake_mask, masked, sample_store

__all__ = ["masked"]

HOST = "127.0.0.1:8765"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = self.body.decode("utf-8", errors="replace")


def call(
    app: ReviewApp,
    path: str,
    method: str = "GET",
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    path, _, query = path.partition("?")
    body = urlencode(form or {}).encode("utf-8")
    environ: dict = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": HOST,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    captured: dict = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    chunks = b"".join(app(environ, start_response))
    return Response(captured["status"], captured["headers"], chunks)


def token_in(page: Response) -> str:
    match = re.search(r'name="token" value="([0-9a-f]+)"', page.text)
    assert match, "the page has no decision form"
    return match.group(1)


@pytest.fixture
def app_and_sample(store: Store, tmp_path: Path):
    sample = sample_store(store, tmp_path)
    app = ReviewApp(store, "kim", allowed_hosts={HOST}, mask=fake_mask)
    return app, sample


def test_front_page_goes_to_the_most_severe_open_finding(app_and_sample) -> None:
    app, sample = app_and_sample
    response = call(app, "/")
    assert response.status == 303
    assert response.headers["Location"] == f"/finding/{sample.findings['US-THREAT-002']}"


def test_finding_page_shows_context_masked_audio_at_its_time_and_a_form(
    app_and_sample,
) -> None:
    app, sample = app_and_sample
    page = call(app, f"/finding/{sample.findings['CN-THREAT-004']}")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "<mark>发到你所有联系人</mark>" in page.text
    assert "你们不能这样" in page.text and "是我" in page.text  # neighbouring segments
    assert ID_NUMBER not in page.text and "1234" in page.text
    contact = sample.contacts["c001"]
    assert f'src="/audio/{contact}#t=4.5"' in page.text  # where the finding starts
    assert "CN-THREAT-004" in page.text and "w1" in page.text and "team_a" in page.text
    assert "2026-11-16 09:00:00 CST" in page.text  # the debtor's local time
    assert len(token_in(page)) == 64


def test_transcript_text_is_html_escaped(store: Store, tmp_path: Path, app_and_sample) -> None:
    app, sample = app_and_sample
    c1 = sample.contacts["c001"]
    segments = store.segments(c1)
    segments[3].text = '<script>alert("x")</script>'
    store.save_segments(c1, segments, "t2", None)
    page = call(app, f"/finding/{sample.findings['CN-THREAT-004']}")
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_confirm_records_the_decision_and_moves_to_the_next_finding(
    store: Store, app_and_sample
) -> None:
    app, sample = app_and_sample
    first = sample.findings["US-THREAT-002"]
    page = call(app, f"/finding/{first}")
    response = call(
        app,
        f"/finding/{first}",
        "POST",
        {"token": token_in(page), "decision": "confirmed", "reason": "", "reviewer": "kim"},
    )
    assert response.status == 303
    assert latest_decisions(store) == {first: Decision.CONFIRMED}
    (row,) = store.review_history(first)
    assert row["reviewer"] == "kim"
    # → the front page → the next open finding, saying what was recorded
    assert response.headers["Location"] == f"/?decided={first}"
    onward = call(app, response.headers["Location"])
    assert onward.headers["Location"] == (
        f"/finding/{sample.findings['CN-THREAT-004']}?decided={first}"
    )
    next_page = call(app, onward.headers["Location"])
    assert f"Finding {first}: confirmed by kim." in next_page.text


def test_dismiss_without_a_reason_stays_on_the_finding_and_records_nothing(
    store: Store, app_and_sample
) -> None:
    app, sample = app_and_sample
    fid = sample.findings["CN-THREAT-004"]
    page = call(app, f"/finding/{fid}")
    response = call(
        app, f"/finding/{fid}", "POST", {"token": token_in(page), "decision": "dismissed"}
    )
    assert response.status == 400
    assert "a dismissal needs a reason" in response.text
    assert store.review_history() == []
    response = call(
        app,
        f"/finding/{fid}",
        "POST",
        {"token": token_in(page), "decision": "dismissed", "reason": "复述客户的话"},
    )
    assert response.status == 303
    (row,) = store.review_history(fid)
    assert (row["decision"], row["reason"], row["reviewer"]) == ("dismissed", "复述客户的话", "kim")


def test_a_decision_without_the_pages_token_is_refused(store: Store, app_and_sample) -> None:
    app, sample = app_and_sample
    fid = sample.findings["CN-THREAT-004"]
    other = sample.findings["US-THREAT-002"]
    for form in (
        {"decision": "confirmed"},
        {"decision": "confirmed", "token": "0" * 64},
        # a token is bound to its finding
        {"decision": "confirmed", "token": token_in(call(app, f"/finding/{other}"))},
    ):
        response = call(app, f"/finding/{fid}", "POST", form)
        assert response.status == 403, form
        assert "token does not match" in response.text
    # another server's token (another secret) does not work either
    other_app = ReviewApp(store, "kim", allowed_hosts={HOST}, mask=fake_mask)
    page = call(other_app, f"/finding/{fid}")
    assert (
        call(
            app, f"/finding/{fid}", "POST", {"decision": "confirmed", "token": token_in(page)}
        ).status
        == 403
    )
    assert store.review_history() == []


def test_requests_for_another_host_or_from_another_origin_are_refused(
    store: Store, app_and_sample
) -> None:
    app, sample = app_and_sample
    fid = sample.findings["CN-THREAT-004"]
    rebound = call(app, f"/finding/{fid}", headers={"Host": "evil.example:8765"})
    assert rebound.status == 403 and "does not answer to host" in rebound.text
    token = token_in(call(app, f"/finding/{fid}"))
    cross = call(
        app,
        f"/finding/{fid}",
        "POST",
        {"token": token, "decision": "confirmed"},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status == 403 and "cannot decide here" in cross.text
    same = call(
        app,
        f"/finding/{fid}",
        "POST",
        {"token": token, "decision": "confirmed"},
        headers={"Origin": f"http://{HOST}"},
    )
    assert same.status == 303
    assert latest_decisions(store) == {fid: Decision.CONFIRMED}


def test_audio_is_served_with_byte_ranges_from_the_contacts_recording(app_and_sample) -> None:
    app, sample = app_and_sample
    contact = sample.contacts["c001"]
    data = sample.audio.read_bytes()
    whole = call(app, f"/audio/{contact}")
    assert whole.status == 200 and whole.body == data
    assert whole.headers["Content-Type"] in ("audio/x-wav", "audio/wav")
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = call(app, f"/audio/{contact}", headers={"Range": "bytes=100-199"})
    assert part.status == 206 and part.body == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = call(app, f"/audio/{contact}", headers={"Range": "bytes=-10"})
    assert tail.body == data[-10:]
    beyond = call(app, f"/audio/{contact}", headers={"Range": f"bytes={len(data) + 5}-"})
    assert beyond.status == 416


def test_audio_only_for_recordings_of_stored_contacts(app_and_sample) -> None:
    app, sample = app_and_sample
    assert call(app, "/audio/999").status == 404  # no such contact
    assert call(app, f"/audio/{sample.contacts['m001']}").status == 404  # a message: no audio
    assert call(app, f"/audio/{sample.contacts['c002']}").status == 404  # recording is gone
    # nothing from the request is a path
    assert call(app, "/audio/../../etc/passwd").status == 404
    assert call(app, "/audio/%2e%2e%2fetc%2fpasswd").status == 404
    assert call(app, f"/audio/{sample.contacts['c001']}", "POST").status == 405


def test_message_finding_has_no_player_and_unknown_finding_is_404(app_and_sample) -> None:
    app, sample = app_and_sample
    page = call(app, f"/finding/{sample.findings['CN-PRIVACY-002']}")
    assert page.status == 200 and "<audio" not in page.text
    assert "<mark>欠款五万</mark>" in page.text
    missing = call(app, "/finding/4242")
    assert missing.status == 404 and "no finding with id 4242" in missing.text


def test_history_of_earlier_decisions_is_shown_latest_last(store: Store, app_and_sample) -> None:
    app, sample = app_and_sample
    fid = sample.findings["CN-THREAT-004"]
    decide(store, [fid], Decision.DISMISSED, "lee", "quoted")
    decide(store, [fid], Decision.CONFIRMED, "kim")
    page = call(app, f"/finding/{fid}")
    history = page.text[page.text.index('id="history"') :]
    assert history.index("lee") < history.index("kim")
    assert 'class="superseded"' in history
    assert 'id="finding-status">confirmed<' in page.text


def test_when_every_finding_is_decided_the_page_says_so(store: Store, app_and_sample) -> None:
    app, sample = app_and_sample
    decide(store, list(sample.findings.values()), Decision.CONFIRMED, "kim")
    response = call(app, "/")
    assert response.status == 200 and "Nothing left to review" in response.text


def test_filters_given_to_the_server_shape_its_queue(store: Store, tmp_path: Path) -> None:
    from auditor.review.web import QueueFilters

    sample = sample_store(store, tmp_path)
    app = ReviewApp(
        store, "kim", QueueFilters(category="insult"), allowed_hosts={HOST}, mask=fake_mask
    )
    assert call(app, "/").headers["Location"] == f"/finding/{sample.findings['CN-INSULT-001']}"


def test_server_binds_to_loopback_and_answers_only_to_its_own_names(
    store: Store, tmp_path: Path
) -> None:
    sample_store(store, tmp_path)
    server, url = make_review_server(store, "kim", port=0, mask=fake_mask)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        assert url == f"http://127.0.0.1:{port}/"
        app = server.get_app()
        assert f"localhost:{port}" in app.allowed_hosts and f"127.0.0.1:{port}" in app.allowed_hosts
        assert all(h.endswith(f":{port}") for h in app.allowed_hosts)
    finally:
        server.server_close()


def test_a_call_whose_recording_is_gone_says_so_instead_of_a_broken_player(
    app_and_sample,
) -> None:
    app, sample = app_and_sample
    page = call(app, f"/finding/{sample.findings['US-THREAT-002']}")
    assert page.status == 200
    assert "<audio" not in page.text
    assert "The recording is not available on this machine." in page.text


def test_serve_command_listens_on_loopback_with_the_default_reviewer(
    store: Store, tmp_path: Path, masked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.review.commands import serve

    sample_store(store, tmp_path)
    monkeypatch.setenv("AUDITOR_REVIEWER", "王芳")
    server, url = serve(store, port=0)
    try:
        assert url.startswith("http://127.0.0.1:")
        assert server.get_app().reviewer == "王芳"
    finally:
        server.server_close()
