"""A real HTTP server on 127.0.0.1 that plays the other side in tests.

Answers come from a script (queued answers per method and path, then
optional handlers); every request is recorded, so tests count the calls.
With a certificate it speaks HTTPS, and records the host names clients ask
for in their TLS handshake (SNI).
"""

import datetime
import json
import os
import ssl
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Recorded:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body or b"null")


def self_signed_certificate(directory, host="localhost"):
    """Write a new self-signed certificate for ``host`` and its key into
    ``directory``; return (certificate path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, f"{host}.crt")
    key_path = os.path.join(directory, f"{host}.key")
    with open(cert_path, "wb") as file:
        file.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class FakeServer:
    def __init__(self, certificate=None):
        """:param certificate: (certificate path, key path) to speak HTTPS"""
        self.certificate = certificate
        self.server_names = []  # SNI of each TLS handshake
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
        scheme = "https" if self.certificate else "http"
        return f"{scheme}://{host}:{port}"

    @property
    def port(self):
        return self._server.server_address[1]

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

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.certificate)
            context.sni_callback = lambda _sock, name, _context: (
                self.server_names.append(name)
            )
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True
            )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
