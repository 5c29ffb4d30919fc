"""Shopify deliveries through the real webhook route."""

from datetime import timedelta

from odoo import fields
from odoo.tests.common import HttpCase, tagged

from odoo.addons.distribution_connector.tests.common import WebhookTestMixin
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import ShopifyTestMixin, fixture


@tagged("-at_install", "post_install")
class TestShopifyWebhook(WebhookTestMixin, ShopifyTestMixin, HttpCase):
    url_topic = "shopify"

    def test_signed_delivery_is_stored_and_enqueued(self):
        body, headers = self.shopify_delivery(
            self.secret,
            self.order_fixture(),
            event_id="evt-shopify-1",
            webhook_id="wh-1",
            triggered_at="2025-03-01T10:00:01Z",
        )
        self.post_accepted(body, headers)
        exchange = self.exchanges()
        self.assertRecordValues(
            exchange,
            [
                {
                    "topic": "orders/create",
                    "kind": "order",
                    "external_event_id": "evt-shopify-1",
                    "external_ref": "5810000001001",
                    "state": "received",
                }
            ],
        )
        kept = self.assertKeptAsSent(exchange, body, "x-shopify-hmac-sha256")
        self.assertEqual(kept["x-shopify-triggered-at"], "2025-03-01T10:00:01Z")
        self.assertEqual(kept["x-shopify-shop-domain"], "demo-pottery.myshopify.com")

    def test_bad_signature_writes_nothing(self):
        body, headers = self.shopify_delivery("not-the-secret", self.order_fixture())
        self.assertRefused(body, headers)

    def test_missing_signature_writes_nothing(self):
        body, headers = self.shopify_delivery(self.secret, self.order_fixture())
        del headers["X-Shopify-Hmac-Sha256"]
        self.assertRefused(body, headers)

    def test_signature_of_other_bytes_is_refused(self):
        body, headers = self.shopify_delivery(self.secret, self.order_fixture())
        self.assertEqual(
            self.post(body.replace(b"42.00", b"4.20"), headers).status_code, 401
        )
        # the generic adapter's hex signature is not Shopify's base64
        headers["X-Shopify-Hmac-Sha256"] = (
            headers["X-Shopify-Hmac-Sha256"].encode().hex()
        )
        self.assertEqual(self.post(body, headers).status_code, 401)

    def test_delivery_from_another_shop_is_refused(self):
        self.backend.api_base_url = "https://demo-pottery.myshopify.com"
        body, headers = self.shopify_delivery(
            self.secret, self.order_fixture(), event_id="evt-shop"
        )
        self.assertEqual(self.post(body, headers).status_code, 200)
        headers["X-Shopify-Shop-Domain"] = "other-shop.myshopify.com"
        headers["X-Shopify-Event-Id"] = "evt-other-shop"
        self.assertEqual(self.post(body, headers).status_code, 401)
        self.assertEqual(len(self.exchanges()), 1)

    def test_rotated_client_secret(self):
        backend = self.make_shopify_backend("Rotated shop", secret="old-client-secret")
        backend.webhook_secret = "new-client-secret"
        for secret, event_id in (
            ("old-client-secret", "e-old"),
            ("new-client-secret", "e-new"),
        ):
            body, headers = self.shopify_delivery(
                secret, self.order_fixture(), event_id=event_id
            )
            self.assertEqual(self.post(body, headers, backend).status_code, 200)
        backend.webhook_secret_previous_until = fields.Datetime.now() - timedelta(
            seconds=1
        )
        body, headers = self.shopify_delivery(
            "old-client-secret", self.order_fixture(), event_id="e-late"
        )
        self.assertEqual(self.post(body, headers, backend).status_code, 401)
        self.assertEqual(len(self.exchanges(backend)), 2)

    def test_topic_comes_from_the_header(self):
        deliveries = [
            (
                "orders/cancelled",
                fixture("orders_cancelled.json"),
                "order_cancellation",
            ),
            ("refunds/create", fixture("refunds_create.json"), "return"),
            ("orders/paid", self.order_fixture(), "order"),
        ]
        for topic, payload, kind in deliveries:
            body, headers = self.shopify_delivery(
                self.secret, payload, topic=topic, event_id=f"evt-{topic}"
            )
            self.assertEqual(self.post(body, headers).status_code, 200)
            exchange = self.exchanges().filtered(lambda e, t=topic: e.topic == t)
            self.assertEqual(exchange.kind, kind)
            self.assertEqual(exchange.external_ref, "5810000001001")

    def test_topic_from_the_url_without_header(self):
        body, headers = self.shopify_delivery(
            self.secret, self.order_fixture(), topic=None, event_id="evt-url"
        )
        response = self.post(body, headers, url_topic="orders-updated")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.exchanges().topic, "orders/updated")

    def test_documented_topic_not_handled_is_kept_as_ignored(self):
        topics = (
            "orders/fulfilled",
            "fulfillments/update",
            "inventory_levels/update",
            "products/update",
            "app/uninstalled",
        )
        with trap_jobs() as trap:
            for topic in topics:
                body, headers = self.shopify_delivery(
                    self.secret, {"id": 1}, topic=topic, event_id=f"evt-{topic}"
                )
                response = self.post(body, headers)
                self.assertEqual(response.status_code, 200, topic)
                self.assertEqual(response.json()["status"], "ignored")
            # Shopify's retry of one of them is the same event
            again = self.post(body, headers).json()
            self.assertEqual(again["status"], "duplicate")
            # nothing to process
            trap.assert_jobs_count(0)
        ignored = self.exchanges()
        self.assertEqual(sorted(ignored.mapped("topic")), sorted(topics))
        for exchange in ignored:
            self.assertEqual(exchange.state, "ignored")
            self.assertFalse(exchange.kind)
            self.assertIn(f"topic {exchange.topic} is not handled", exchange.reason)
            self.assertEqual(exchange.raw_body, '{"id": 1}')

    def test_topic_shopify_does_not_have_is_not_found(self):
        body, headers = self.shopify_delivery(
            self.secret, {"id": 1}, topic="orders/teleported", event_id="evt-x"
        )
        self.assertEqual(self.post(body, headers).status_code, 404)
        self.assertFalse(self.exchanges())

    def test_same_event_id_twice_is_one_exchange(self):
        body, headers = self.shopify_delivery(
            self.secret, self.order_fixture(), event_id="evt-dup"
        )
        # Shopify retries with the same event id (and a new delivery time)
        retried = {**headers, "X-Shopify-Triggered-At": "2025-03-01T10:05:00Z"}
        self.assertSameEvent((body, headers), (body, retried))

    def test_event_id_falls_back_to_webhook_id_then_body(self):
        body, headers = self.shopify_delivery(
            self.secret, self.order_fixture(), webhook_id="wh-only"
        )
        self.post(body, headers)
        self.assertEqual(self.exchanges().external_event_id, "wh-only")
        body, headers = self.shopify_delivery(
            self.secret, self.order_fixture(note="other"), topic="orders/updated"
        )
        self.post(body, headers)
        self.assertEqual(self.post(body, headers).json()["status"], "duplicate")
        updated = self.exchanges().filtered(lambda e: e.topic == "orders/updated")
        self.assertTrue(updated.external_event_id.startswith("sha256:"))
