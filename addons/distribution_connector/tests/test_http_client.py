import gzip
import json
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from http import HTTPStatus
from unittest.mock import patch

from odoo.tests.common import TransactionCase, tagged

from ..errors import PermanentError, RateLimitedError, TransientError
from ..http_client import BackendHttpClient, retry_after_seconds
from .common import DistributionTestMixin
from .fake_server import FakeServer, self_signed_certificate

#: a public address; its server is played by a local one (``dns`` routes it)
PUBLIC_ADDRESS = "93.184.215.14"


def address_info(address, port):
    """One ``socket.getaddrinfo`` entry for ``address``."""
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@contextmanager
def dns(answers, routes=None):
    """The outside world's name resolution, as a test tells it.

    :param answers: host name -> the addresses of each lookup in turn (the
        last ones are repeated)
    :param routes: public address -> port of the local server that plays
        the host at that address
    :return: the names looked up, in order
    """
    real = socket.getaddrinfo
    routes = routes or {}
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host in answers:
            turns = answers[host]
            addresses = turns[min(asked.count(host), len(turns)) - 1]
            return [address_info(address, port) for address in addresses]
        if host in routes:
            return [address_info("127.0.0.1", routes[host])]
        return real(host, port, *args, **kwargs)

    with patch.object(socket, "getaddrinfo", getaddrinfo):
        yield asked


@tagged("-at_install", "post_install")
class TestHttpClient(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the client logs and throttles through cursors of its own
        cls.registry_enter_test_mode_cls()
        cls.setUpDistribution()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)

    def setUp(self):
        super().setUp()
        self.server.requests.clear()
        self.server.scripts.clear()
        self.waits = []
        self.backend.write(
            {
                "api_base_url": self.server.url + "/api",
                "allow_private_network": True,
                "api_secret": "bearer-secret-123",
                "rate_limit_per_second": 0,
                "http_read_timeout": 0.5,
            }
        )

    def client(self, backend=None):
        return BackendHttpClient(backend or self.backend, sleep=self.waits.append)

    def failing(self, error_class, client, *args, **kwargs):
        """The error of a failing call. Unlike ``assertRaises`` in Odoo tests,
        this does not roll back what the call wrote (its outbound log)."""
        try:
            client.request(*args, **kwargs)
        except error_class as err:
            return err
        self.fail(f"{error_class.__name__} not raised")

    def outbound(self):
        return self.env["distribution.call.log"].search(
            [("backend_id", "=", self.backend.id)], order="id"
        )

    def test_json_call_is_authenticated_and_logged(self):
        self.server.add("POST", "/api/stock", json_body={"ok": True})
        answer = self.client().json("POST", "stock", topic="stock", json={"a": 1})
        self.assertEqual(answer, {"ok": True})
        call = self.server.calls()[0]
        self.assertEqual(call.headers["authorization"], "Bearer bearer-secret-123")
        self.assertEqual(call.json(), {"a": 1})
        log = self.outbound()
        self.assertEqual(len(log), 1)
        self.assertEqual(
            (log.state, log.response_status, log.topic), ("done", 200, "stock")
        )
        self.assertEqual((log.method, log.path), ("POST", "/api/stock"))
        # a record of a call, not a message: nothing processes nor retries it
        self.assertFalse(
            self.env["distribution.exchange"].search(
                [("backend_id", "=", self.backend.id)]
            )
        )
        self.assertFalse(hasattr(log, "action_retry"))
        self.assertEqual(log.request_body, '{"a": 1}')
        self.assertGreaterEqual(log.duration_ms, 0)
        self.assertNotIn("bearer-secret-123", repr(log.read()))

    def test_form_body_and_unlogged_bodies(self):
        self.server.add("POST", "/api/token", json_body={"access_token": "tok-1"})
        client = self.client()
        client.log_bodies = False
        answer = client.json(
            "POST", "token", topic="auth", form={"grant_type": "x", "code": "a b"}
        )
        self.assertEqual(answer, {"access_token": "tok-1"})
        call = self.server.calls()[0]
        self.assertEqual(
            call.headers["content-type"], "application/x-www-form-urlencoded"
        )
        self.assertEqual(call.body, b"grant_type=x&code=a+b")
        # credentials both ways: the log keeps the call, not its bodies
        log = self.outbound()
        self.assertEqual((log.state, log.response_status), ("done", 200))
        self.assertFalse(log.request_body)
        self.assertFalse(log.response_body)

    def test_retry_after_is_honoured_in_place_when_short(self):
        self.server.add("GET", "/api/x", status=429, headers={"Retry-After": "2"})
        self.server.add("GET", "/api/x", json_body={"ok": 1})
        self.assertEqual(self.client().json("GET", "x", topic="t"), {"ok": 1})
        self.assertEqual(len(self.server.calls()), 2)
        self.assertEqual(self.waits, [2.0])
        self.assertEqual(self.outbound().mapped("response_status"), [429, 200])

    def test_long_retry_after_postpones_the_job(self):
        self.server.add("GET", "/api/x", status=429, headers={"Retry-After": "120"})
        with self.assertRaises(RateLimitedError) as caught:
            self.client().request("GET", "x", topic="t")
        self.assertEqual(caught.exception.retry_after, 120)
        self.assertEqual(len(self.server.calls()), 1)
        self.assertEqual(self.waits, [])

    def test_503_with_retry_after(self):
        self.server.add("GET", "/api/x", status=503, headers={"Retry-After": "1"})
        self.server.add("GET", "/api/x", json_body={})
        self.client().request("GET", "x", topic="t")
        self.assertEqual(self.waits, [1.0])

    def test_server_errors_retry_with_backoff_then_give_up(self):
        for _ in range(3):
            self.server.add("GET", "/api/x", status=502)
        with self.assertRaises(TransientError):
            self.client().request("GET", "x", topic="t")
        self.assertEqual(len(self.server.calls()), 3)
        self.assertEqual(len(self.waits), 2)
        self.assertTrue(0 <= self.waits[0] <= 0.5 and 0 <= self.waits[1] <= 1.0)

    def test_timeout_is_transient(self):
        # Odoo's test harness raises every HTTP timeout below 10 s to 10 s
        self.server.add("GET", "/api/slow", json_body={}, delay=10.5)
        client = self.client()
        client.max_attempts = 1
        error = self.failing(TransientError, client, "GET", "slow", topic="t")
        self.assertIn("Timeout", error.message)
        self.assertEqual(self.outbound().mapped("response_status"), [0])

    def test_client_error_is_permanent_and_redacted(self):
        self.server.add(
            "POST",
            "/api/x",
            status=422,
            json_body={"error": "token bearer-secret-123 lacks scope"},
        )
        error = self.failing(
            PermanentError, self.client(), "POST", "x", topic="t", json={}
        )
        self.assertEqual(len(self.server.calls()), 1)
        log = self.outbound()
        self.assertEqual((log.state, log.response_status), ("error", 422))
        # users read the status line; the answer is for managers: on the
        # call's log and in the error's details
        status_line = f"POST {self.server.url}/api/x: HTTP 422 {HTTPStatus(422).phrase}"
        self.assertEqual(
            error.message, f"{status_line} (answer kept on HTTP call #{log.id})"
        )
        self.assertEqual(log.error, status_line)
        self.assertIn("lacks scope", error.details)
        self.assertNotIn("bearer-secret-123", error.details)
        self.assertIn("lacks scope", log.response_body)
        self.assertNotIn("bearer-secret-123", log.response_body)

    def test_binary_answer_is_logged_as_such(self):
        self.server.add("GET", "/api/report", body=b"\x1f\x8b\x08\x00binary\x00data")
        answer = self.client().request("GET", "report", topic="report")
        self.assertEqual(answer.content, b"\x1f\x8b\x08\x00binary\x00data")
        log = self.outbound()
        self.assertEqual((log.state, log.response_status), ("done", 200))
        self.assertRegex(log.response_body, r"^\(binary, \d+ characters, not logged\)$")

    def test_malformed_json_is_permanent(self):
        self.server.add("GET", "/api/x", body=b"<html>oops</html>")
        with self.assertRaisesRegex(PermanentError, "not JSON"):
            self.client().json("GET", "x", topic="t")

    def test_plain_http_and_private_addresses_are_refused(self):
        self.backend.allow_private_network = False
        with self.assertRaisesRegex(PermanentError, "only https"):
            self.client().request("GET", "x", topic="t")
        self.backend.api_base_url = "https://127.0.0.1:9/api"
        with self.assertRaisesRegex(PermanentError, "non-public address"):
            self.client().request("GET", "x", topic="t")
        self.assertEqual(self.server.calls(), [])

    def test_oversized_answers_are_refused(self):
        with patch.dict(os.environ, {"DISTRIBUTION_RESPONSE_MAX_BYTES": "1024"}):
            client = self.client()
        self.server.add(
            "GET",
            "/api/big",
            body=json.dumps({"data": "x" * 4000}).encode(),
            headers={"Content-Type": "application/json"},
        )
        # small on the wire (its Content-Length), large once decompressed
        self.server.add(
            "GET",
            "/api/bomb",
            body=gzip.compress(b"x" * 100_000),
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )
        for path in ("big", "bomb"):
            with self.subTest(path=path):
                client.max_attempts = 3
                error = self.failing(PermanentError, client, "GET", path, topic="t")
                self.assertEqual(
                    error.message,
                    f"GET {self.server.url}/api/{path}: HTTP 200: the answer is "
                    "larger than 1024 bytes, the most an outbound call reads "
                    "(server setting response_max_bytes): refused.",
                )
                self.assertEqual(len(self.server.calls("GET", f"/api/{path}")), 1)
        logs = self.outbound()
        self.assertEqual(logs.mapped("state"), ["error", "error"])
        self.assertEqual(logs.mapped("response_status"), [200, 200])
        self.assertEqual(logs.mapped("response_body"), [False, False])
        # an answer within the limit is read as before
        self.server.add("GET", "/api/small", json_body={"ok": 1})
        self.assertEqual(client.json("GET", "small", topic="t"), {"ok": 1})

    def test_rate_limit_is_shared_by_every_client_of_a_backend(self):
        self.backend.write({"rate_limit_per_second": 5.0, "rate_limit_burst": 1})
        for _ in range(3):
            self.server.add("GET", "/api/x", json_body={})
        slots = []  # when each waiting caller may call, from the first call

        def sleep(seconds):
            self.waits.append(seconds)
            slots.append(time.monotonic() + seconds - start)

        first, second = (
            BackendHttpClient(self.backend, sleep=sleep) for _worker in range(2)
        )
        start = time.monotonic()
        first.request("GET", "x", topic="t")
        second.request("GET", "x", topic="t")
        first.request("GET", "x", topic="t")
        # one free call, then each caller waits for its slot, 0.2 s apart
        # (the waits themselves shrink by the time the calls took)
        self.assertEqual(len(self.waits), 2)
        self.assertAlmostEqual(slots[0], 0.2, delta=0.05)
        self.assertAlmostEqual(slots[1], 0.4, delta=0.05)

    def test_callers_that_give_up_take_no_token(self):
        self.backend.write({"rate_limit_per_second": 1.0, "rate_limit_burst": 1})
        for _ in range(2):
            self.server.add("GET", "/api/x", json_body={})
        client = self.client()
        client.max_inline_wait = 0.5
        client.request("GET", "x", topic="t")  # the bucket's only token
        for _caller in range(3):
            # the next token comes in a second: too late for these callers
            error = self.failing(RateLimitedError, client, "GET", "x", topic="t")
            self.assertEqual(error.retry_after, 1)
        # none of them kept a place in line: the next caller willing to wait
        # gets the token that comes in a second
        client.max_inline_wait = 10.0
        client.request("GET", "x", topic="t")
        self.assertEqual(len(self.waits), 1)
        self.assertLessEqual(self.waits[0], 1.0)
        self.assertEqual(len(self.server.calls()), 2)

    def test_retry_after_http_date(self):
        self.assertEqual(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), 0.0)
        self.assertEqual(retry_after_seconds("3"), 3.0)
        self.assertEqual(retry_after_seconds("soon", 7), 7)


@tagged("-at_install", "post_install")
class TestOutboundAddress(DistributionTestMixin, TransactionCase):
    """Calls to a host name go to the address that was checked.

    Two HTTPS servers with a certificate for ``localhost`` listen on
    127.0.0.1: ``internal`` plays a service of the private network (the
    backend's URL names its port), ``public_site`` the host at a public
    address (the ``dns`` routes that address to it).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry_enter_test_mode_cls()
        cls.setUpDistribution()
        directory = cls.enterClassContext(tempfile.TemporaryDirectory())
        certificate = self_signed_certificate(directory, "localhost")
        other = self_signed_certificate(directory, "other.example")
        bundle = os.path.join(directory, "trusted.pem")
        with open(bundle, "w", encoding="utf-8") as trusted:
            for path in (certificate[0], other[0]):
                with open(path, encoding="utf-8") as pem:
                    trusted.write(pem.read())
        # requests reads its trusted certificates from there
        cls.enterClassContext(patch.dict(os.environ, {"REQUESTS_CA_BUNDLE": bundle}))
        cls.internal = FakeServer(certificate).start()
        cls.addClassCleanup(cls.internal.stop)
        cls.public_site = FakeServer(certificate).start()
        cls.addClassCleanup(cls.public_site.stop)
        cls.impostor = FakeServer(other).start()
        cls.addClassCleanup(cls.impostor.stop)

    def setUp(self):
        super().setUp()
        for server in (self.internal, self.public_site, self.impostor):
            server.requests.clear()
            server.scripts.clear()
            server.server_names.clear()
        self.backend.write(
            {
                "api_base_url": f"https://localhost:{self.internal.port}/api",
                "allow_private_network": False,
                "rate_limit_per_second": 0,
            }
        )
        self.internal.add("GET", "/api/x", json_body={"from": "internal"})

    def client(self):
        client = BackendHttpClient(self.backend, sleep=lambda _seconds: None)
        client.max_attempts = 1
        return client

    def test_a_second_answer_of_the_dns_is_never_used(self):
        self.public_site.add("GET", "/api/x", json_body={"from": "public"})
        # public when checked, the loopback when requests would resolve again
        answers = {"localhost": [[PUBLIC_ADDRESS], ["127.0.0.1"]]}
        with dns(answers, {PUBLIC_ADDRESS: self.public_site.port}) as asked:
            answer = self.client().json("GET", "x", topic="t")
        self.assertEqual(answer, {"from": "public"})
        self.assertEqual(self.internal.requests, [], "127.0.0.1 never reached")
        self.assertEqual(asked.count("localhost"), 1, "resolved once")
        # the host name is kept for the Host header, SNI and the certificate
        [call] = self.public_site.requests
        self.assertEqual(call.headers["host"], f"localhost:{self.internal.port}")
        self.assertEqual(self.public_site.server_names, ["localhost"])

    def test_the_next_checked_address_is_tried_when_one_refuses(self):
        self.public_site.add("GET", "/api/x", json_body={"from": "public"})
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        unreachable = "93.184.215.15"
        answers = {"localhost": [[unreachable, PUBLIC_ADDRESS], ["127.0.0.1"]]}
        routes = {unreachable: closed_port, PUBLIC_ADDRESS: self.public_site.port}
        with dns(answers, routes) as asked:
            answer = self.client().json("GET", "x", topic="t")
        self.assertEqual(answer, {"from": "public"})
        self.assertEqual(asked.count("localhost"), 1, "resolved once")
        self.assertEqual(len(self.public_site.requests), 1)
        self.assertEqual(self.internal.requests, [])

    def test_the_certificate_is_checked_for_the_host_name(self):
        # the public address answers with a certificate for another name
        answers = {"localhost": [[PUBLIC_ADDRESS]]}
        with dns(answers, {PUBLIC_ADDRESS: self.impostor.port}):
            error = self.failing(TransientError, "GET", "x")
        self.assertIn("SSLError", error.message)
        self.assertEqual(self.impostor.requests, [])
        self.assertEqual(self.internal.requests, [])

    def test_addresses_that_may_reach_a_private_ipv4_are_refused(self):
        embeds = ", which may reach a private IPv4 address"
        refused = {
            "64:ff9b::7f00:1": "a NAT64 address" + embeds,
            "64:ff9b:1::a00:1": "a local-use NAT64 address" + embeds,
            "::ffff:127.0.0.1": "an IPv4-mapped IPv6 address" + embeds,
            "::ffff:8.8.8.8": "an IPv4-mapped IPv6 address" + embeds,
            "::7f00:1": "an IPv4-compatible IPv6 address" + embeds,
            "2002:7f00:1::1": "a 6to4 address" + embeds,
            "2001:0:4136:e378:8000:63bf:3fff:fdd2": "a Teredo address" + embeds,
            "fec0::1": "a site-local address",
            "ff0e::1": "a multicast address",
            "224.0.0.251": "a multicast address",
            "10.0.0.1": "a non-public address",
        }
        for address, reason in refused.items():
            with self.subTest(address=address):
                # one public address is not enough: every address must be
                with dns({"localhost": [[PUBLIC_ADDRESS, address]]}) as asked:
                    error = self.failing(PermanentError, "GET", "x")
                self.assertEqual(error.kind, "configuration")
                self.assertEqual(
                    error.message,
                    f"Outbound URL localhost resolves to {address}, {reason}: "
                    "refused unless the backend allows private networks.",
                )
                self.assertEqual(asked, ["localhost"], "no connection attempted")
        self.assertEqual(self.internal.requests, [])

    def failing(self, error_class, method, path):
        try:
            self.client().request(method, path, topic="t")
        except error_class as err:
            return err
        self.fail(f"{error_class.__name__} not raised")
