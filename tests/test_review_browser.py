"""Click through the review page in headless Chromium, as a quality reviewer would.

Chromium is driven over its DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ending in NUL on file descriptors 3 and 4), so the test needs Debian's `chromium` and
nothing else: no WebDriver, no driver download, no network. It skips, saying why, when Chromium is
not installed (CI installs it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.models import Decision
from auditor.review import latest_decisions
from auditor.review.web import make_review_server
from auditor.store import Store

from .test_review_fixtures import ID_NUMBER, fake_mask, sample_store, sqlite_store

__all__ = ["sqlite_store"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# In CI a missing browser is a failure (the tests run and say why), never a silent skip.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="headless Chromium is not installed (apt-get install chromium)",
)


class Chromium:
    """Just enough of the DevTools protocol to load pages, run script in them and type."""

    def __init__(self, binary: str, profile: Path) -> None:
        commands_r, commands_w = os.pipe()
        answers_r, answers_w = os.pipe()
        # The browser reads commands on fd 3 and answers on fd 4; bash puts the pipes there.
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$0" "$@" 3<&{commands_r} 4>&{answers_w}',
                binary,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=1200,1400",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(commands_r, answers_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_r)
        os.close(answers_w)
        self.commands, self.answers = commands_w, answers_r
        self.buffer = b""
        self.last_id = 0
        self.session: str | None = None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0):
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.last_id:  # anything else is an event: not needed
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium did not answer {method} in {timeout} s")
            if select.select([self.answers], [], [], left)[0]:
                chunk = os.read(self.answers, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self.buffer += chunk

    def go(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", "script failed"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> None:
        """Poll until `expression` is true in a fully loaded page."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done = self.js(f"document.readyState === 'complete' && !!({expression})")
            except RuntimeError:
                done = False  # between two documents
            if done:
                return
            time.sleep(0.1)
        raise TimeoutError(f"never true: {expression}\npage: {self.js('document.body.innerText')}")

    def click(self, element_id: str) -> None:
        self.js(f"document.getElementById({json.dumps(element_id)}).click()")

    def type_into(self, element_id: str, text: str) -> None:
        self.js(f"document.getElementById({json.dumps(element_id)}).focus()")
        self.send("Input.insertText", {"text": text})  # as a keyboard would, not .value = …

    def text(self, element_id: str) -> str | None:
        return self.js(
            f"(e => e && e.textContent.trim())(document.getElementById({json.dumps(element_id)}))"
        )

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.commands)
        os.close(self.answers)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    chromium = Chromium(CHROMIUM, tmp_path / "profile")
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def served(sqlite_store: Store, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    sample = sample_store(sqlite_store, tmp_path)
    server, url = make_review_server(sqlite_store, "王芳", port=0, mask=fake_mask)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, sample
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def showing(finding_id: int) -> str:
    return f"(document.getElementById('finding-id') || {{}}).textContent === '{finding_id}'"


def test_reviewer_confirms_and_dismisses_in_the_browser(
    browser: Chromium, served, sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store  # the browser and the server share one file; PostgreSQL adds nothing
    url, sample = served
    critical = sample.findings["US-THREAT-002"]
    threat = sample.findings["CN-THREAT-004"]
    privacy = sample.findings["CN-PRIVACY-002"]

    browser.go(url)
    browser.wait_for(showing(critical))  # the front page opens on the most severe finding
    assert "arrested" in browser.js("document.querySelector('#quote mark').textContent")

    browser.click("confirm")
    browser.wait_for(showing(threat))
    assert browser.text("flash") == f"Finding {critical}: confirmed by 王芳."
    assert browser.js("document.querySelector('#quote mark').textContent") == "发到你所有联系人"
    assert ID_NUMBER not in browser.js("document.documentElement.outerHTML")

    # The player is set to the finding's time.
    src = browser.js("document.getElementById('recording').getAttribute('src')")
    assert src == f"/audio/{sample.contacts['c001']}#t=4.5"
    browser.wait_for("document.getElementById('recording').readyState >= 1")
    assert browser.js("document.getElementById('recording').duration") == pytest.approx(15.0)
    assert browser.js("document.getElementById('recording').currentTime") == pytest.approx(4.5)
    browser.screenshot(tmp_path / "review-page.png")

    # Dismissing without a reason is refused, on the same finding...
    browser.click("dismiss")
    browser.wait_for("document.getElementById('error')")
    assert "a dismissal needs a reason" in (browser.text("error") or "")
    assert browser.text("finding-id") == str(threat)
    assert latest_decisions(store) == {critical: Decision.CONFIRMED}

    # ...and recorded with one.
    browser.type_into("reason", "催收员在复述客户的话")
    browser.click("dismiss")
    browser.wait_for(showing(privacy))
    assert browser.js("document.getElementById('recording')") is None  # an SMS: nothing to play
    history = store.review_history(threat)
    assert [(h["decision"], h["reviewer"], h["reason"]) for h in history] == [
        ("dismissed", "王芳", "催收员在复述客户的话")
    ]
    assert latest_decisions(store) == {critical: Decision.CONFIRMED, threat: Decision.DISMISSED}

    # Skipping moves on without deciding.
    browser.click("skip")
    browser.wait_for(showing(sample.findings["CN-INSULT-001"]))
    assert privacy not in latest_decisions(store)
