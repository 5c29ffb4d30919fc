import json
import logging
from datetime import timedelta

from odoo import fields
from odoo.tests.common import HttpCase, tagged
from odoo.tools import SQL

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import WebhookTestMixin

ORDER = {
    "external_id": "1001",
    "currency": "EUR",
    "customer": {"name": "Ada"},
    "lines": [],
}


@tagged("-at_install", "post_install")
class TestWebhook(WebhookTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.secret = "secret-of-Test channel-0123456789"

    def test_valid_signature_stores_and_enqueues(self):
        body, headers = self.signed(self.secret, ORDER, event_id="evt-100")
        with trap_jobs() as trap:
            response = self.post(body, headers)
            self.assertEqual(response.status_code, 200)
            answer = response.json()
            self.assertEqual(answer["status"], "accepted")
            exchange = self.Exchange.browse(answer["exchange_id"])
            # the request only wakes its backend's dispatcher...
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            self.assertEqual(trap.enqueued_jobs[0].args, (self.backend.id,))
            self.assertFalse(exchange.dispatched_at)
            # ...which enqueues the exchange's one processing job
            ran = self.run_trapped_jobs(trap)
            self.assertEqual(
                [job.recordset for job in ran if job.method_name == "process"],
                [exchange],
            )
        exchange = self.exchanges()
        self.assertEqual(exchange.id, answer["exchange_id"])
        # no flow for this topic in this addon: processed, and kept in error
        self.assertEqual(exchange.state, "error")
        self.assertTrue(exchange.dispatched_at)
        self.assertEqual(exchange.external_event_id, "evt-100")
        self.assertEqual(exchange.external_ref, "1001")
        self.assertEqual(exchange.raw_body.encode(), body)
        self.assertEqual(exchange.kind, "order")

    def test_bad_signature_is_rejected_and_writes_nothing(self):
        body, headers = self.signed("not-the-secret", ORDER, event_id="evt-101")
        with trap_jobs() as trap:
            response = self.post(body, headers)
            trap.assert_jobs_count(0)
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self.exchanges())

    def test_missing_signature_is_rejected(self):
        body, headers = self.signed(self.secret, ORDER)
        del headers["X-Distribution-Signature"]
        response = self.post(body, headers)
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self.exchanges())

    def test_signature_over_other_bytes_is_rejected(self):
        body, headers = self.signed(self.secret, ORDER)
        response = self.post(body + b" ", headers)
        self.assertEqual(response.status_code, 401)

    def test_rotated_secret_before_and_after_end_date(self):
        backend = self.make_backend("Rotated", secret="old-secret-0001")
        backend.webhook_secret = "new-secret-0002"
        body, headers = self.signed("old-secret-0001", ORDER, event_id="evt-old")
        self.assertEqual(self.post(body, headers, backend).status_code, 200)
        body, headers = self.signed("new-secret-0002", ORDER, event_id="evt-new")
        self.assertEqual(self.post(body, headers, backend).status_code, 200)
        backend.webhook_secret_previous_until = fields.Datetime.now() - timedelta(
            seconds=1
        )
        body, headers = self.signed("old-secret-0001", ORDER, event_id="evt-old-late")
        self.assertEqual(self.post(body, headers, backend).status_code, 401)
        self.assertEqual(len(self.exchanges(backend)), 2)

    def test_oversized_body_is_rejected_before_reading(self):
        self.backend.webhook_max_bytes = 1024
        payload = dict(ORDER, note="x" * 2048)
        body, headers = self.signed(self.secret, payload)
        response = self.post(body, headers)
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self.exchanges())

    def test_default_limit_is_two_mebibytes(self):
        self.assertEqual(
            self.make_backend("Default limit").webhook_max_bytes, 2 * 1024 * 1024
        )
        body, headers = self.signed(self.secret, b"x" * (2 * 1024 * 1024 + 1))
        self.assertEqual(self.post(body, headers).status_code, 413)

    def test_wrong_content_type(self):
        body, headers = self.signed(self.secret, ORDER)
        headers["Content-Type"] = "text/plain"
        response = self.post(body, headers)
        self.assertEqual(response.status_code, 415)
        self.assertFalse(self.exchanges())

    def test_signed_body_that_is_not_json_is_kept_for_review(self):
        body, headers = self.signed(self.secret, b"{not json")
        response = self.post(body, headers)
        self.assertEqual(response.status_code, 415)
        exchange = self.exchanges()
        self.assertEqual(len(exchange), 1)
        self.assertEqual(exchange.state, "error")
        self.assertEqual(exchange.raw_body, "{not json")
        self.assertIn("not valid JSON", exchange.error)

    def test_unknown_backend(self):
        body, headers = self.signed(self.secret, ORDER)
        response = self.url_open(
            "/distribution/webhook/no-such-token/order", data=body, headers=headers
        )
        self.assertEqual(response.status_code, 404)

    def test_archived_backend_is_unknown(self):
        self.backend.active = False
        body, headers = self.signed(self.secret, ORDER)
        self.assertEqual(self.post(body, headers).status_code, 404)

    def test_paused_backend_stores_and_acknowledges_without_processing(self):
        self.backend.action_pause()
        first, headers = self.signed(self.secret, ORDER, event_id="evt-pause-1")
        with trap_jobs() as trap:
            response = self.post(first, headers)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json()["status"], "accepted")
            second, headers_2 = self.signed(
                self.secret, dict(ORDER, note="later"), event_id="evt-pause-2"
            )
            self.assertEqual(self.post(second, headers_2).status_code, 200)
            # the channel's redelivery is still one event
            again = self.post(first, headers).json()
            self.assertEqual(again["status"], "duplicate")
            # no dispatcher, no processing job
            trap.assert_jobs_count(0)
        stored = self.exchanges().sorted("id")
        self.assertEqual(len(stored), 2)
        self.assertEqual(
            [(e.state, bool(e.dispatched_at)) for e in stored],
            [("received", False), ("received", False)],
        )
        self.assertEqual(stored[0].raw_body.encode(), first)
        with trap_jobs() as trap:
            self.backend.action_resume()
            # resuming wakes the dispatcher, which processes them in order
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            ran = self.run_trapped_jobs(trap)
        self.assertEqual(
            [job.recordset for job in ran if job.method_name == "process"],
            list(stored),
        )
        self.assertNotIn("received", stored.mapped("state"))

    def test_unknown_topic(self):
        body, headers = self.signed(self.secret, ORDER)
        response = self.post(body, headers, url_topic="no-such-topic")
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.exchanges())

    def test_get_is_not_allowed(self):
        response = self.url_open(self.webhook_path(self.backend))
        self.assertEqual(response.status_code, 405)

    def test_same_event_twice_is_one_exchange(self):
        body, headers = self.signed(self.secret, ORDER, event_id="evt-dup")
        with trap_jobs() as trap:
            first = self.post(body, headers).json()
            second = self.post(body, headers).json()
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            ran = self.run_trapped_jobs(trap)
            self.assertEqual(
                len([job for job in ran if job.method_name == "process"]), 1
            )
        self.assertEqual(first["status"], "accepted")
        self.assertEqual(second["status"], "duplicate")
        self.assertEqual(first["exchange_id"], second["exchange_id"])
        self.assertEqual(len(self.exchanges()), 1)

    def test_signed_event_id_of_the_body_wins_over_the_header(self):
        payload = dict(ORDER, event_id="evt-signed")
        body, headers = self.signed(self.secret, payload, event_id="evt-header-1")
        first = self.post(body, headers).json()
        self.assertEqual(first["status"], "accepted")
        exchange = self.exchanges()
        self.assertEqual(exchange.external_event_id, "evt-signed")
        # the same signed body under another (unsigned) event id header
        headers["X-Distribution-Event-Id"] = "evt-header-2"
        again = self.post(body, headers).json()
        self.assertEqual(
            again, {"status": "duplicate", "exchange_id": first["exchange_id"]}
        )
        self.assertEqual(len(self.exchanges()), 1)
        # without one in the body, the header still names the event
        body, headers = self.signed(self.secret, ORDER, event_id="evt-header-3")
        self.post(body, headers)
        self.assertIn("evt-header-3", self.exchanges().mapped("external_event_id"))

    def test_redelivery_without_event_id_collapses_on_body(self):
        body, headers = self.signed(self.secret, ORDER)
        self.post(body, headers)
        self.assertEqual(self.post(body, headers).json()["status"], "duplicate")
        self.assertTrue(self.exchanges().external_event_id.startswith("sha256:"))

    def test_auth_and_signature_headers_are_not_kept(self):
        body, headers = self.signed(self.secret, ORDER, event_id="evt-h")
        headers["Authorization"] = "Bearer very-secret-bearer"
        headers["X-Correlation-Id"] = "corr-123"
        self.post(body, headers)
        exchange = self.exchanges()
        kept = json.loads(exchange.headers)
        self.assertNotIn("authorization", kept)
        self.assertNotIn("x-distribution-signature", kept)
        self.assertEqual(kept["x-distribution-event-id"], "evt-h")
        self.assertEqual(exchange.correlation_id, "corr-123")
        self.assertNotIn("very-secret-bearer", exchange.headers)

    def test_backend_of_another_company_gets_its_own_exchange(self):
        company_b = self.env["res.company"].create({"name": "Webhook company B"})
        backend_b = self.make_backend("B", company=company_b, secret="b-secret-123456")
        body, headers = self.signed("b-secret-123456", ORDER, event_id="evt-b")
        self.assertEqual(self.post(body, headers, backend_b).status_code, 200)
        # B's secret does not open A's door
        self.assertEqual(self.post(body, headers).status_code, 401)
        self.assertEqual(self.exchanges(backend_b).company_id, company_b)
        self.assertFalse(self.exchanges())

    # -- the route's per-process cache of backends and secrets ----------------

    def test_pause_and_archive_take_effect_on_next_request(self):
        def status(event_id):
            body, headers = self.signed(self.secret, ORDER, event_id=event_id)
            return self.post(body, headers).status_code

        self.assertEqual(status("evt-c1"), 200)  # the backend is cached now
        self.backend.action_pause()
        # stored, but left for the resume: no dispatcher woken
        with trap_jobs() as trap:
            self.assertEqual(status("evt-c2"), 200)
            trap.assert_jobs_count(0)
        self.backend.action_resume()
        self.assertEqual(status("evt-c3"), 200)
        self.backend.active = False
        self.assertEqual(status("evt-c4"), 404)
        self.backend.active = True
        self.assertEqual(status("evt-c5"), 200)
        self.backend.webhook_max_bytes = 10
        self.assertEqual(status("evt-c6"), 413)
        self.assertEqual(len(self.exchanges()), 4)

    def test_new_secret_takes_effect_on_next_request(self):
        body, headers = self.signed(self.secret, ORDER, event_id="evt-s1")
        self.assertEqual(self.post(body, headers).status_code, 200)
        self.backend.webhook_secret = "the-next-secret-0123456789"
        # the previous secret, in its grace period, and the new one
        body, headers = self.signed(self.secret, ORDER, event_id="evt-s2")
        self.assertEqual(self.post(body, headers).status_code, 200)
        body, headers = self.signed(
            "the-next-secret-0123456789", ORDER, event_id="evt-s3"
        )
        self.assertEqual(self.post(body, headers).status_code, 200)
        self.backend.action_revoke_previous_webhook_secret()
        body, headers = self.signed(self.secret, ORDER, event_id="evt-s4")
        self.assertEqual(self.post(body, headers).status_code, 401)

    def test_regenerated_token_takes_effect_on_next_request(self):
        old_path = self.webhook_path(self.backend)
        body, headers = self.signed(self.secret, ORDER, event_id="evt-t1")
        self.assertEqual(
            self.url_open(old_path, data=body, headers=headers).status_code, 200
        )
        self.backend.action_regenerate_webhook_token()
        body, headers = self.signed(self.secret, ORDER, event_id="evt-t2")
        self.assertEqual(
            self.url_open(old_path, data=body, headers=headers).status_code, 404
        )
        self.assertEqual(self.post(body, headers).status_code, 200)

    def test_backend_changes_are_signalled_to_other_workers(self):
        token = self.backend.sudo().webhook_token
        Backend = self.env["distribution.backend"]
        self.assertEqual(Backend._find_by_webhook_token(token), self.backend)
        self.registry.cache_invalidated.clear()
        self.backend.name = "Renamed channel"  # not read by the route
        self.assertFalse(self.registry.cache_invalidated)
        self.backend.action_pause()
        # what signal_changes() tells the other workers after the commit
        self.assertIn("default", self.registry.cache_invalidated)
        self.assertTrue(Backend._find_by_webhook_token(token).paused)

    def test_unknown_tokens_are_not_cached(self):
        Backend = self.env["distribution.backend"]
        self.assertFalse(Backend._find_by_webhook_token("token-of-nobody-yet"))
        # given to a backend behind the ORM's back: no cache to clear, and
        # the next lookup finds it, since the miss was not cached
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "UPDATE distribution_backend SET webhook_token = %s WHERE id = %s",
                "token-of-nobody-yet",
                self.backend.id,
            )
        )
        self.assertEqual(
            Backend._find_by_webhook_token("token-of-nobody-yet"), self.backend
        )

    def test_cached_values_hold_no_plain_secret(self):
        token = self.backend.sudo().webhook_token
        with self.assertLogs(level="DEBUG") as logs:
            body, headers = self.signed(self.secret, ORDER, event_id="evt-p1")
            self.assertEqual(self.post(body, headers).status_code, 200)
            self.assertEqual(self.post(body, headers).status_code, 200)
            logging.getLogger(__name__).debug("end of the requests")
        self.assertNotIn(self.secret, "\n".join(logs.output))
        values = self.env["distribution.backend"]._webhook_backend_values(token)
        self.assertNotIn(self.secret, repr(values))
        self.env.flush_all()
        for table in ("distribution_backend", "distribution_exchange", "queue_job"):
            self.env.cr.execute(SQL("SELECT * FROM %s", SQL.identifier(table)))
            self.assertNotIn(self.secret, repr(self.env.cr.fetchall()), table)
