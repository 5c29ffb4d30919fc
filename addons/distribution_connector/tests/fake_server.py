"""A real HTTP server on 127.0.0.1 that plays the other side in tests.

Answers come from a script (queued answers per method and path, then
optional handlers); every request is recorded, so tests count the calls.
"""

import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Recorded:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body or b"null")


class FakeServer:
    def __init__(self):
        self.requests = []
        self.scripts = defaultdict(deque)
        self.handlers = {}
        self._server = None
        self._thread = None

    # -- scripting -----------------------------------------------------------

    def add(
        self,
        method,
        path,
        status=200,
        json_body=None,
        body=None,
        headers=None,
        delay=0.0,
    ):
        """Queue one answer for the next ``method path`` request."""
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.scripts[(method, path)].append((status, body or b"", headers or {}, delay))

    def route(self, method, path, handler):
        """Answer every ``method path`` request with ``handler(recorded)`` ->
        (status, json-able body, headers), once the queued answers are used."""
        self.handlers[(method, path)] = handler

    def calls(self, method=None, path=None):
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (path is None or r.path == path)
        ]

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    # -- life cycle ------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                fake.requests.append(recorded)
                key = (self.command, parts.path)
                if fake.scripts[key]:
                    status, payload, headers, delay = fake.scripts[key].popleft()
                elif key in fake.handlers:
                    status, data, headers = fake.handlers[key](recorded)
                    payload = json.dumps(data).encode() if data is not None else b""
                    headers = {"Content-Type": "application/json", **(headers or {})}
                    delay = 0.0
                else:
                    status, payload, headers, delay = (
                        404,
                        b'{"error": "no route"}',
                        {},
                        0,
                    )
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
