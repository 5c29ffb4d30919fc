import time

from odoo.tests.common import TransactionCase, tagged

from ..errors import PermanentError, RateLimitedError, TransientError
from ..http_client import BackendHttpClient, retry_after_seconds
from .common import DistributionTestMixin
from .fake_server import FakeServer


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
        return self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id), ("direction", "=", "out")],
            order="id",
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
        self.assertTrue(log.call_log)
        log.action_retry()
        self.assertEqual(log.state, "done", "a call log is never processed again")
        self.assertEqual(log.raw_body, '{"a": 1}')
        self.assertGreaterEqual(log.duration_ms, 0)
        self.assertNotIn("bearer-secret-123", repr(log.read()))

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
        self.assertIn("HTTP 422", error.message)
        self.assertIn("lacks scope", error.message)
        self.assertNotIn("bearer-secret-123", error.message)
        self.assertEqual(len(self.server.calls()), 1)
        log = self.outbound()
        self.assertEqual((log.state, log.response_status), ("error", 422))
        self.assertIn("lacks scope", log.response_body)
        self.assertNotIn("bearer-secret-123", log.response_body)

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
