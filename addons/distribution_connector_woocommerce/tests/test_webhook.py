import json
from datetime import timedelta

from odoo import fields
from odoo.tests.common import HttpCase, tagged

from odoo.addons.distribution_connector.adapters.base import hmac_digest
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import WooCommerceTestMixin, fixture


@tagged("-at_install", "post_install")
class TestWebhook(WooCommerceTestMixin, HttpCase):
    """WooCommerce deliveries through the real webhook route."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpWooCommerce()
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def post(self, body, headers, backend=None, url_topic="woocommerce"):
        return self.url_open(
            self.webhook_path(backend or self.backend, url_topic),
            data=body,
            headers=headers,
        )

    def exchanges(self, backend=None):
        return self.Exchange.search(
            [("backend_id", "=", (backend or self.backend).id)], order="id"
        )

    def test_signed_delivery_is_stored_and_enqueued(self):
        body, headers = self.woo_delivery(self.SECRET, fixture("order.json"))
        with trap_jobs() as trap:
            response = self.post(body, headers)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json()["status"], "accepted")
            trap.assert_jobs_count(1)
        exchange = self.exchanges()
        self.assertEqual(len(exchange), 1)
        self.assertEqual(
            (exchange.topic, exchange.kind, exchange.external_ref),
            ("order.created", "order", "727"),
        )
        self.assertTrue(
            exchange.external_event_id.startswith("727:2025-03-22T19:28:08:")
        )
        self.assertEqual(exchange.raw_body.encode(), body)
        kept = json.loads(exchange.headers)
        self.assertEqual(kept["x-wc-webhook-delivery-id"], "d-1")
        self.assertEqual(kept["x-wc-webhook-source"], "https://shop.example.com/")
        self.assertNotIn("x-wc-webhook-signature", kept)

    def test_bad_signature_is_rejected(self):
        body, headers = self.woo_delivery("not-the-secret", fixture("order.json"))
        with trap_jobs() as trap:
            self.assertEqual(self.post(body, headers).status_code, 401)
            trap.assert_jobs_count(0)
        self.assertFalse(self.exchanges())

    def test_missing_signature_is_rejected(self):
        body, headers = self.woo_delivery(self.SECRET, fixture("order.json"))
        del headers["X-WC-Webhook-Signature"]
        self.assertEqual(self.post(body, headers).status_code, 401)
        self.assertFalse(self.exchanges())

    def test_signature_of_other_bytes_is_rejected(self):
        body, headers = self.woo_delivery(self.SECRET, fixture("order.json"))
        self.assertEqual(self.post(body + b"\n", headers).status_code, 401)

    def test_hex_signature_is_not_woocommerce_signature(self):
        body, headers = self.woo_delivery(self.SECRET, fixture("order.json"))
        headers["X-WC-Webhook-Signature"] = hmac_digest(self.SECRET, body).hex()
        self.assertEqual(self.post(body, headers).status_code, 401)

    def test_rotated_secret_before_and_after_the_grace_period(self):
        backend = self.make_woo_backend("Rotating shop", secret="old-woo-secret-1")
        backend.webhook_secret = "new-woo-secret-2"
        first = fixture("order.json")
        body, headers = self.woo_delivery("old-woo-secret-1", first)
        self.assertEqual(self.post(body, headers, backend).status_code, 200)
        second = dict(first, id=728)
        body, headers = self.woo_delivery("new-woo-secret-2", second)
        self.assertEqual(self.post(body, headers, backend).status_code, 200)
        backend.webhook_secret_previous_until = fields.Datetime.now() - timedelta(
            seconds=1
        )
        late = dict(first, id=729)
        body, headers = self.woo_delivery("old-woo-secret-1", late)
        self.assertEqual(self.post(body, headers, backend).status_code, 401)
        self.assertEqual(self.exchanges(backend).mapped("external_ref"), ["727", "728"])

    def test_secret_with_entities_signs_with_its_decoded_form(self):
        backend = self.make_woo_backend("Entity shop", secret="a&amp;b-secret-123")
        body, headers = self.woo_delivery("a&b-secret-123", fixture("order.json"))
        self.assertEqual(self.post(body, headers, backend).status_code, 200)

    def test_ping_is_answered_and_stores_nothing(self):
        with trap_jobs() as trap:
            # what WooCommerce posts when a webhook is saved active: no
            # signature, no X-WC-Webhook-* header, a form-encoded body
            response = self.url_open(
                self.webhook_path(self.backend, "woocommerce"),
                data={"webhook_id": "12"},
                headers={"User-Agent": "WooCommerce/9.8.0 Hookshot (WordPress/6.8)"},
            )
            trap.assert_jobs_count(0)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "pong")
        self.assertFalse(self.exchanges())

    def test_form_body_other_than_a_ping_is_refused(self):
        response = self.url_open(
            self.webhook_path(self.backend, "woocommerce"),
            data={"webhook_id": "12", "other": "x"},
        )
        self.assertEqual(response.status_code, 415)
        self.assertFalse(self.exchanges())

    def test_topic_comes_from_the_header(self):
        body, headers = self.woo_delivery(
            self.SECRET, fixture("order.json"), topic="order.updated"
        )
        self.assertEqual(
            self.post(body, headers, url_topic="order.created").status_code, 200
        )
        self.assertEqual(self.exchanges().topic, "order.updated")

    def test_url_topic_without_header(self):
        body, headers = self.woo_delivery(self.SECRET, fixture("order.json"))
        del headers["X-WC-Webhook-Topic"]
        self.assertEqual(
            self.post(body, headers, url_topic="order.updated").status_code, 200
        )
        self.assertEqual(self.exchanges().topic, "order.updated")
        response = self.post(body, headers, url_topic="woocommerce")
        self.assertEqual(response.status_code, 404)

    def test_core_topic_not_handled_is_kept_as_ignored(self):
        deliveries = [
            ("product.updated", fixture("product.json")),
            ("customer.created", {"id": 25, "email": "john.doe@example.com"}),
            ("coupon.deleted", {"id": 719}),
            ("order.deleted", {"id": 727}),
        ]
        with trap_jobs() as trap:
            for topic, payload in deliveries:
                body, headers = self.woo_delivery(
                    self.SECRET, payload, topic=topic, delivery_id=topic
                )
                response = self.post(body, headers)
                # a non-2xx answer counts towards disabling the webhook
                self.assertEqual(response.status_code, 200, topic)
                self.assertEqual(response.json()["status"], "ignored")
            trap.assert_jobs_count(0)
        ignored = self.exchanges()
        self.assertEqual(ignored.mapped("topic"), [t for t, _p in deliveries])
        self.assertEqual(set(ignored.mapped("state")), {"ignored"})
        self.assertIn(
            "WooCommerce topic product.updated is not handled", ignored[0].reason
        )
        self.assertEqual(json.loads(ignored[0].raw_body), deliveries[0][1])

    def test_topic_woocommerce_does_not_have_is_not_found(self):
        body, headers = self.woo_delivery(
            self.SECRET, {"id": 1}, topic="order.teleported"
        )
        self.assertEqual(self.post(body, headers).status_code, 404)
        self.assertFalse(self.exchanges())

    def test_redelivery_with_a_new_delivery_id_is_one_exchange(self):
        payload = fixture("order.json")
        body, headers = self.woo_delivery(self.SECRET, payload, delivery_id="hash-a")
        again, headers_again = self.woo_delivery(
            self.SECRET, payload, delivery_id="hash-b"
        )
        self.assertEqual(body, again)
        with trap_jobs() as trap:
            first = self.post(body, headers).json()
            second = self.post(again, headers_again).json()
            trap.assert_jobs_count(1)
        self.assertEqual((first["status"], second["status"]), ("accepted", "duplicate"))
        self.assertEqual(first["exchange_id"], second["exchange_id"])
        self.assertEqual(len(self.exchanges()), 1)

    def test_same_order_re_serialized_is_the_same_event(self):
        payload = fixture("order.json")
        body, headers = self.woo_delivery(self.SECRET, payload, delivery_id="a")
        self.post(body, headers)
        pretty = json.dumps(payload, indent=2).encode()
        body, headers = self.woo_delivery(self.SECRET, pretty, delivery_id="b")
        self.assertEqual(self.post(body, headers).json()["status"], "duplicate")

    def test_two_changes_in_the_same_second_are_two_exchanges(self):
        first = fixture("order.json")
        second = fixture("order.json")
        second["status"] = "completed"
        self.assertEqual(first["date_modified_gmt"], second["date_modified_gmt"])
        with trap_jobs() as trap:
            for index, payload in enumerate((first, second)):
                body, headers = self.woo_delivery(
                    self.SECRET, payload, topic="order.updated", delivery_id=str(index)
                )
                self.assertEqual(self.post(body, headers).json()["status"], "accepted")
            ran = self.run_trapped_jobs(trap)
            processed = [job.recordset for job in ran if job.method_name == "process"]
        self.assertEqual(len(self.exchanges()), 2)
        self.assertEqual(sorted(e.id for e in processed), sorted(self.exchanges().ids))
