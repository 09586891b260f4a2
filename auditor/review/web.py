"""`auditor serve`: a small local review page over the store, one finding at a time.

Standard library only (wsgiref) plus jinja2, bound to 127.0.0.1 by default. The page shows the
transcript around the finding (masked), plays the recording from the finding's timestamp, and
records a confirm or dismiss decision, then moves on to the next open finding.

Safety, since the page changes the record a regulator may see:
- every POST carries a token derived from a secret made at start-up (a page from elsewhere
  cannot forge a decision), and the Host and Origin headers must name this server (a DNS
  rebinding page cannot read tokens either);
- audio is served only from a stored contact's own recording, looked up by its id in the store;
  no path from the request ever reaches the file system;
- HTML is autoescaped; the page loads nothing from elsewhere (Content-Security-Policy).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import re
import secrets
import socket
import socketserver
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import jinja2

import auditor
from auditor.errors import AuditorError, ReviewError
from auditor.models import Channel
from auditor.review.decisions import decide, parse_decision
from auditor.review.queue import (
    find_stored,
    local_time,
    masker,
    quote_context,
    select_findings,
    status_of,
    transcript_context,
)
from auditor.store import Store

log = logging.getLogger(__name__)

TEMPLATE = "review.html.j2"
MAX_FORM_BYTES = 64 * 1024
AUDIO_CHUNK = 64 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_FINDING_PATH = re.compile(r"^/finding/(\d+)$")
_AUDIO_PATH = re.compile(r"^/audio/(\d+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

StartResponse = Callable[..., Any]

SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on form posts,
    # and the origin check would refuse the page's own form.
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]


def templates_dir() -> Path:
    """`reports/` of the checkout, or its copy inside the installed wheel."""
    package = Path(auditor.__file__).resolve().parent
    for candidate in (package / "_data" / "reports", package.parent / "reports"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise ReviewError(f"cannot find the template {TEMPLATE} beside the auditor package")


@dataclass(frozen=True, slots=True)
class QueueFilters:
    collector_id: str | None = None
    category: str | None = None
    min_severity: str | None = None


class HTTPError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ReviewApp:
    """The WSGI application; one instance per server (it holds the token secret)."""

    def __init__(
        self,
        store: Store,
        reviewer: str,
        filters: QueueFilters | None = None,
        allowed_hosts: Iterable[str] | None = None,
        mask: Callable[[str], str] | None = None,
        secret: bytes | None = None,
        template_folder: Path | None = None,
    ) -> None:
        self.store = store
        self.reviewer = reviewer
        self.filters = filters or QueueFilters()
        # None: any Host (in-process tests); a server passes the names it is reachable by.
        self.allowed_hosts = set(allowed_hosts) if allowed_hosts is not None else None
        self.mask = mask or masker()
        self.secret = secret or secrets.token_bytes(32)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(template_folder or templates_dir())),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # -- tokens ------------------------------------------------------------------------------

    def token(self, finding_id: int) -> str:
        return hmac.new(self.secret, f"decide:{finding_id}".encode(), hashlib.sha256).hexdigest()

    def _check_token(self, finding_id: int, given: str) -> None:
        if not hmac.compare_digest(self.token(finding_id), given):
            raise HTTPError(
                HTTPStatus.FORBIDDEN,
                "the form's token does not match this server; reload the page and decide again",
            )

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/") or "/"
        try:
            self._check_host(environ, method)
            if path == "/" and method in ("GET", "HEAD"):
                return self._next(environ, start_response)
            if match := _FINDING_PATH.match(path):
                finding_id = int(match.group(1))
                if method in ("GET", "HEAD"):
                    return self._page(environ, start_response, finding_id)
                if method == "POST":
                    return self._decide(environ, start_response, finding_id)
                raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed here")
            if match := _AUDIO_PATH.match(path):
                if method not in ("GET", "HEAD"):
                    raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed here")
                return self._audio(environ, start_response, int(match.group(1)))
            raise HTTPError(HTTPStatus.NOT_FOUND, f"nothing at {path}")
        except HTTPError as exc:
            return self._plain(start_response, exc.status, exc.message)

    def _check_host(self, environ: dict[str, Any], method: str) -> None:
        if self.allowed_hosts is None:
            return
        host = environ.get("HTTP_HOST", "")
        if host not in self.allowed_hosts:
            raise HTTPError(HTTPStatus.FORBIDDEN, f"this server does not answer to host {host!r}")
        origin = environ.get("HTTP_ORIGIN")
        if method == "POST" and origin is not None and origin != f"http://{host}":
            raise HTTPError(HTTPStatus.FORBIDDEN, f"a form from {origin!r} cannot decide here")

    @staticmethod
    def _plain(start_response: StartResponse, status: HTTPStatus, message: str) -> list[bytes]:
        body = (message + "\n").encode("utf-8")
        start_response(
            f"{status.value} {status.phrase}",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                *SECURITY_HEADERS,
            ],
        )
        return [body]

    @staticmethod
    def _redirect(start_response: StartResponse, location: str) -> list[bytes]:
        start_response("303 See Other", [("Location", location), ("Content-Length", "0")])
        return [b""]

    def _open_ids(self) -> list[int]:
        f = self.filters
        return [
            s.id
            for s in select_findings(self.store, "open", f.collector_id, f.category, f.min_severity)
        ]

    # -- pages -------------------------------------------------------------------------------

    def _next(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        open_ids = self._open_ids()
        if open_ids:
            location = f"/finding/{open_ids[0]}"
            if "decided" in query:
                location += "?" + urlencode({"decided": query["decided"][0]})
            return self._redirect(start_response, location)
        flash = self._flash(query)
        return self._html(start_response, HTTPStatus.OK, {"stored": None, "flash": flash})

    def _flash(self, query: dict[str, list[str]]) -> str:
        """After a decision, the page says what was recorded (from the store, not the URL)."""
        raw = query.get("decided", [""])[0]
        if not raw.isdigit():
            return ""
        history = self.store.review_history(int(raw))
        if not history:
            return ""
        last = history[-1]
        return f"Finding {raw}: {last['decision']} by {last['reviewer']}."

    def _page(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        finding_id: int,
        status: HTTPStatus = HTTPStatus.OK,
        error: str = "",
        reason: str = "",
    ) -> Iterable[bytes]:
        try:
            stored = find_stored(self.store, finding_id)
        except ReviewError as exc:
            raise HTTPError(HTTPStatus.NOT_FOUND, str(exc)) from exc
        segments = self.store.segments(stored.finding.contact_id)
        open_ids = self._open_ids()
        later = open_ids[open_ids.index(finding_id) + 1 :] if finding_id in open_ids else open_ids
        skip_to = next((i for i in later if i != finding_id), None)
        history = self.store.review_history(finding_id)
        for row in history:
            row["decided_at_text"] = row["decided_at"].strftime("%Y-%m-%d %H:%M:%S UTC")
        audio_url = None
        if stored.channel == Channel.CALL.value and self._recording(stored.finding.contact_id):
            # A media fragment (#t=) makes the player start where the finding starts.
            audio_url = f"/audio/{stored.finding.contact_id}#t={stored.finding.start_s:.1f}"
        context = {
            "stored": stored,
            "finding": stored.finding,
            "status": status_of(stored),
            "quote": quote_context(stored, segments, self.mask),
            "transcript": transcript_context(stored, segments, self.mask),
            "local_time": local_time(stored).strftime("%Y-%m-%d %H:%M:%S %Z"),
            "audio_url": audio_url,
            "history": history,
            "token": self.token(finding_id),
            "reviewer": self.reviewer,
            "open_count": len(open_ids),
            "skip_to": skip_to,
            "error": error,
            "reason": reason,
            "flash": self._flash(parse_qs(environ.get("QUERY_STRING", ""))),
        }
        return self._html(start_response, status, context)

    def _html(
        self, start_response: StartResponse, status: HTTPStatus, context: dict[str, Any]
    ) -> list[bytes]:
        defaults: dict[str, Any] = {
            "finding": None,
            "status": "",
            "quote": None,
            "transcript": [],
            "local_time": "",
            "audio_url": None,
            "history": [],
            "token": "",
            "reviewer": self.reviewer,
            "open_count": 0,
            "skip_to": None,
            "error": "",
            "reason": "",
            "flash": "",
        }
        body = self.templates.get_template(TEMPLATE).render({**defaults, **context})
        data = body.encode("utf-8")
        start_response(
            f"{status.value} {status.phrase}",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(data))),
                *SECURITY_HEADERS,
            ],
        )
        return [data]

    # -- decisions ---------------------------------------------------------------------------

    @staticmethod
    def _form(environ: dict[str, Any]) -> dict[str, str]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_FORM_BYTES:
            raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the form is too large")
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in fields.items()}

    def _decide(
        self, environ: dict[str, Any], start_response: StartResponse, finding_id: int
    ) -> Iterable[bytes]:
        form = self._form(environ)
        self._check_token(finding_id, form.get("token", ""))
        reason = form.get("reason", "").strip()
        try:
            decision = parse_decision(form.get("decision", ""))
            reviewer = form.get("reviewer", "").strip() or self.reviewer
            decide(self.store, [finding_id], decision, reviewer, reason)
        except ReviewError as exc:
            # Shown on the same finding, with what was typed kept, so nothing is lost.
            return self._page(
                environ,
                start_response,
                finding_id,
                status=HTTPStatus.BAD_REQUEST,
                error=str(exc),
                reason=reason,
            )
        log.info("finding %d %s by %s", finding_id, decision.value, reviewer)
        return self._redirect(start_response, "/?" + urlencode({"decided": finding_id}))

    # -- audio -------------------------------------------------------------------------------

    def _recording(self, contact_id: int) -> Path | None:
        """The contact's own recording, if it is a stored call whose file is still there."""
        try:
            contact = self.store.contact(contact_id)
        except AuditorError:
            return None
        path = Path(contact.source_path) if contact.source_path else None
        if contact.channel is not Channel.CALL or path is None or not path.is_file():
            return None
        return path

    def _audio(
        self, environ: dict[str, Any], start_response: StartResponse, contact_id: int
    ) -> Iterable[bytes]:
        path = self._recording(contact_id)
        if path is None:
            raise HTTPError(HTTPStatus.NOT_FOUND, f"no recording for contact {contact_id} here")
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        headers = [
            ("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream"),
            ("Accept-Ranges", "bytes"),
            *SECURITY_HEADERS,
        ]
        wanted = environ.get("HTTP_RANGE")
        if wanted:
            # Browsers seek (and honour #t=) only in media served with byte ranges.
            parsed = _parse_range(wanted, size)
            if parsed is None:
                start_response(
                    "416 Range Not Satisfiable",
                    [("Content-Range", f"bytes */{size}"), ("Content-Length", "0")],
                )
                return [b""]
            start, end = parsed
            status = HTTPStatus.PARTIAL_CONTENT
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        headers.append(("Content-Length", str(end - start + 1)))
        start_response(f"{status.value} {status.phrase}", headers)
        if environ.get("REQUEST_METHOD", "GET").upper() == "HEAD":
            return [b""]
        return _read_range(path, start, end)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) within a file of `size` bytes."""
    match = _RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return None
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start > end or start >= size:
        return None
    return start, end


def _read_range(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as audio:
        audio.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = audio.read(min(AUDIO_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    # A browser fetches the audio while the page is open; one slow request must not block the
    # next page.
    daemon_threads = True


class _ThreadingWSGIServerV6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_review_server(
    store: Store,
    reviewer: str,
    host: str = "127.0.0.1",
    port: int = 8765,
    filters: QueueFilters | None = None,
    mask: Callable[[str], str] | None = None,
) -> tuple[WSGIServer, str]:
    """A server for the review page (not yet serving) and its URL; port 0 picks a free port.

    The caller runs `server.serve_forever()` and `server.server_close()`.
    """
    if host not in LOOPBACK:
        log.warning(
            "serving the review page on %s: anyone who can reach this address can read "
            "transcripts and record decisions",
            host,
        )
    app = ReviewApp(store, reviewer, filters, allowed_hosts=(), mask=mask)
    try:
        server = make_server(
            host,
            port,
            app,
            server_class=_ThreadingWSGIServerV6 if ":" in host else _ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
    except OSError as exc:
        raise ReviewError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_port = server.server_address[1]
    names = {host, *(LOOPBACK if host in LOOPBACK else ())}
    app.allowed_hosts = {f"[{n}]:{bound_port}" if ":" in n else f"{n}:{bound_port}" for n in names}
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{bound_port}/"


__all__ = ["QueueFilters", "ReviewApp", "make_review_server", "templates_dir"]
