"""A real browser for tests: headless Chromium driven over the DevTools protocol on a pipe.

``open_page(path)`` loads a local file and returns what a user's browser would have done with
it: the requests it made (beyond the file itself), the console errors and uncaught exceptions,
answers to JavaScript expressions evaluated in the page, and a PNG screenshot. Chromium comes
from the system packages (Debian's ``chromium``); ``chromium()`` installs it where it is
missing and apt-get can (root, or sudo without a password), and fails the test otherwise.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Page", "chromium", "open_page"]

_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's executable, installed from the system packages if it is missing."""
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if os.geteuid() != 0:
        install = ["sudo", "-n", *install]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # one install at a time: test workers run in parallel, and dpkg takes one lock
    with open(os.path.join(tempfile.gettempdir(), "glacier-tests-chromium.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.CompletedProcess(install, 0, "", "")
        if shutil.which("chromium") is None:
            done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "headless Chromium is needed and could not be installed "
            f"(`{' '.join(install)}`: {done.stderr.strip()[-500:]})"
        )
    return found


@dataclass
class Page:
    requests: list[str] = field(default_factory=list)
    """URLs requested other than the page itself (``file:``, ``data:`` and ``about:`` left out)."""
    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and error log entries."""
    values: dict[str, Any] = field(default_factory=dict)
    """Each expression given to ``open_page``, evaluated in the loaded page."""
    screenshot: bytes = b""


def _onto_3_and_4(read_end: int, write_end: int) -> None:
    """In the child, before exec: ``read_end`` as fd 3 and ``write_end`` as fd 4 (copied
    away first, in case either already is one of them)."""
    read_copy, write_copy = os.dup(read_end), os.dup(write_end)
    os.dup2(read_copy, 3)
    os.dup2(write_copy, 4)


class _Pipe:
    """DevTools protocol messages: JSON, each ended by a NUL byte, on Chromium's fds 3 and 4."""

    def __init__(self, browser: str, profile: str) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self.process = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1400,900",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # the pipe's ends become the child's fds 3 and 4 (the only inheritable ones besides
            # stdio: os.pipe's are not), which is where --remote-debugging-pipe talks
            close_fds=False,
            preexec_fn=lambda: _onto_3_and_4(to_browser_r, from_browser_w),  # noqa: PLW1509
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def open_page(path: Path, expressions: list[str], *, settle_s: float = 0.5) -> Page:
    """Load ``path`` in headless Chromium and report what happened (see ``Page``)."""
    page = Page()
    with tempfile.TemporaryDirectory() as profile:
        pipe = _Pipe(chromium(), profile)
        try:
            target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Network", "Runtime", "Log", "Page"):
                pipe.call(f"{domain}.enable", session)
            pipe.call("Page.navigate", session, url=path.resolve().as_uri())
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                state = pipe.call("Runtime.evaluate", session, expression="document.readyState")[
                    "result"
                ]["value"]
                if state == "complete":
                    break
                time.sleep(0.05)
            time.sleep(settle_s)
            for expression in expressions:
                answer = pipe.call(
                    "Runtime.evaluate", session, expression=expression, returnByValue=True
                )
                if "exceptionDetails" in answer:
                    raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
                page.values[expression] = answer["result"].get("value")
            shot = pipe.call("Page.captureScreenshot", session, format="png")
            page.screenshot = base64.b64decode(shot["data"])
        finally:
            pipe.close()
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = str(params.get("request", {}).get("url", ""))
            if not url.startswith(("file:", "data:", "about:")):
                page.requests.append(url)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            thrown = details.get("exception", {}).get("description")
            page.errors.append(f"{details.get('text')} {thrown or ''}".strip())
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            page.errors.append(json.dumps(params.get("args")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            page.errors.append(str(params["entry"].get("text")))
    return page
