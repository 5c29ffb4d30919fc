#!/usr/bin/env python3
"""Take the README screenshots from a running product.

Start the product first (``make run``, or ``tools/run_odoo.sh`` with
``DISTRIBUTION_DB``, ``ODOO_HTTP_PORT`` and ``ODOO_GEVENT_PORT`` for a
database and ports of its own), then::

    python3 tools/screenshots.py --url http://localhost:8069 --db distribution_demo

It logs in over JSON-RPC, starts a headless Chromium with the session
cookie, opens each screen, waits until its content is drawn and saves a
PNG under ``docs/images/`` (``--out``). Re-run it whenever a screen
changes. Needs ``websocket-client`` (requirements-test.txt) and Chromium.

Environment defaults: ``ODOO_URL``, ``DISTRIBUTION_DB``, ``ODOO_LOGIN``,
``ODOO_PASSWORD``, ``CHROMIUM``.
"""

import argparse
import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

REPO = Path(__file__).resolve().parent.parent

#: (file name, URL path, CSS selector drawn once the screen has its data,
#: window height or None for --height, clicks): each click is (CSS selector,
#: text) and clicks the first element that matches and shows the text, as a
#: user opens a group and a line of a list, before the screen is waited for
SHOTS = [
    (
        "dashboard.png",
        "/odoo/distribution-dashboard",
        ".o_kanban_record [data-figure=latency_p95]",
        None,
        (),
    ),
    (
        "backend-health.png",
        "/odoo/distribution-dashboard/{backend_id}",
        ".o_form_view [name=health_flow_ids] .o_data_row",
        1300,
        (),
    ),
    (
        "exception-queue.png",
        "/odoo/action-distribution_sync.action_distribution_exception",
        ".o_kanban_record, .o_data_row",
        None,
        (),
    ),
    (
        "exception-review.png",
        "/odoo/action-distribution_sync.action_distribution_exception/{exception_id}",
        ".o_form_view .o_field_widget[name=payload_pretty] .ace_content",
        1000,
        (),
    ),
    (
        "stock-level-explanation.png",
        "/odoo/action-distribution_stock_publish.action_distribution_stock_level",
        ".o_form_view .o_distribution_explanation",
        720,
        ((".o_group_header", "{backend}"), (".o_data_row .o_data_cell", "{level_sku}")),
    ),
]


class Browser:
    """Just enough of the Chrome DevTools Protocol: cookies, navigation,
    evaluation and screenshots."""

    def __init__(self, binary, width, height):
        self.profile = tempfile.mkdtemp(prefix="screenshots-chromium-")
        args = [
            binary,
            "--headless=new",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--hide-scrollbars",
            "--lang=en-US",
            "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses root otherwise
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.ids = itertools.count(1)
        port = self._devtools_port()
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(page for page in pages if page.get("type") == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        self.resize(width, height)

    def resize(self, width, height):
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _devtools_port(self, timeout=30):
        port_file = Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit("Chromium exited at start.")
            if port_file.exists() and port_file.read_text().strip():
                return int(port_file.read_text().split()[0])
            time.sleep(0.1)
        sys.exit("Chromium did not open its DevTools port.")

    def call(self, method, **params):
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def open(self, url, selector, timeout=60, settle=1.5):
        self.call("Page.navigate", url=url)
        self.open_current(selector, timeout, settle, where=url)

    def open_current(self, selector, timeout=60, settle=1.5, where="the page"):
        """Wait until the page shows ``selector``, then let it settle."""
        deadline = time.monotonic() + timeout
        check = f"!!document.querySelector({json.dumps(selector)})"
        while time.monotonic() < deadline:
            if self.evaluate(check):
                time.sleep(settle)  # let late widgets and fonts draw
                return
            time.sleep(0.25)
        raise TimeoutError(f"{where}: nothing matches {selector} after {timeout}s")

    def click(self, selector, text, timeout=60):
        """Click the first element matching ``selector`` whose text holds
        ``text``, once there is one."""
        script = (
            "(() => { const found = [...document.querySelectorAll("
            f"{json.dumps(selector)})].find("
            f"e => e.textContent.includes({json.dumps(text)}));"
            " if (found) { found.click(); } return !!found; })()"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(script):
                return
            time.sleep(0.25)
        raise TimeoutError(f"nothing matches {selector} with {text!r} after {timeout}s")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def login(session, url, db, user, password):
    answer = session.post(
        f"{url}/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"db": db, "login": user, "password": password},
        },
        timeout=60,
    ).json()
    if answer.get("error") or not answer.get("result", {}).get("uid"):
        sys.exit(f"Login as {user} on {db} failed: {answer.get('error')}")
    return session.cookies["session_id"]


def call_kw(session, url, model, method, args, kwargs=None):
    answer = session.post(
        f"{url}/web/dataset/call_kw/{model}/{method}",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": model,
                "method": method,
                "args": args,
                "kwargs": kwargs or {},
            },
        },
        timeout=60,
    ).json()
    if answer.get("error"):
        sys.exit(f"{model}.{method} failed: {answer['error']}")
    return answer["result"]


def main():
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=env.get("ODOO_URL", "http://localhost:8069"))
    parser.add_argument("--db", default=env.get("DISTRIBUTION_DB", "distribution_demo"))
    parser.add_argument("--login", default=env.get("ODOO_LOGIN", "admin"))
    parser.add_argument("--password", default=env.get("ODOO_PASSWORD", "admin"))
    parser.add_argument(
        "--backend",
        default="Demo web shop",
        help="backend whose Health screen is taken (default: %(default)s, "
        "else the first one)",
    )
    parser.add_argument(
        "--level-backend",
        default="Demo web shop",
        help="channel whose stock level explanation is taken (default: %(default)s)",
    )
    parser.add_argument(
        "--level-sku",
        default="DS-MUG-BLUE",
        help="product (internal reference) of that stock level (default: %(default)s)",
    )
    parser.add_argument("--out", default=str(REPO / "docs" / "images"))
    parser.add_argument("--chromium", default=env.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument(
        "--only", help="comma-separated file names to take, e.g. dashboard.png"
    )
    options = parser.parse_args()
    url = options.url.rstrip("/")
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)

    session = requests.Session()
    session_id = login(session, url, options.db, options.login, options.password)
    backends = call_kw(
        session,
        url,
        "distribution.backend",
        "search_read",
        [[]],
        {"fields": ["name"], "order": "sequence, id"},
    )
    if not backends:
        sys.exit("No backend in this database: install it with demo data.")
    backend = next((b for b in backends if b["name"] == options.backend), backends[0])
    unknown_skus = call_kw(
        session,
        url,
        "distribution.exception",
        "search_read",
        [[("type", "=", "unknown_sku"), ("state", "=", "open")]],
        {"fields": ["id"], "limit": 1},
    )
    exception_id = unknown_skus[0]["id"] if unknown_skus else 0
    wanted = set(options.only.split(",")) if options.only else None

    browser = Browser(options.chromium, options.width, options.height)
    try:
        browser.call("Network.enable")
        browser.call(
            "Network.setCookie",
            name="session_id",
            value=session_id,
            url=url,
            httpOnly=True,
        )
        for name, path, selector, height, clicks in SHOTS:
            if wanted and name not in wanted:
                continue
            target = out / name
            browser.resize(options.width, height or options.height)
            if "{exception_id}" in path and not exception_id:
                print(f"{name}: skipped, no open unknown-SKU exception")
                continue
            screen = path.format(backend_id=backend["id"], exception_id=exception_id)
            if clicks:
                browser.open(url + screen, clicks[0][0])
                for click_selector, text in clicks:
                    browser.click(
                        click_selector,
                        text.format(
                            backend=options.level_backend,
                            level_sku=options.level_sku,
                        ),
                    )
                browser.open_current(selector)
            else:
                browser.open(url + screen, selector)
            browser.screenshot(target)
            print(
                f"{target.relative_to(REPO) if target.is_relative_to(REPO) else target}"
            )
    finally:
        browser.close()


if __name__ == "__main__":
    main()
