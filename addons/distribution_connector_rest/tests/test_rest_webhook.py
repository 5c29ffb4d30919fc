import base64
import hashlib
import hmac
import json

from odoo.tests.common import HttpCase, tagged

from odoo.addons.distribution_sync.tests.common import OrderImportMixin
from odoo.addons.queue_job.tests.common import trap_jobs

SECRET = "portal-webhook-secret-1234"


def portal_signature(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


@tagged("-at_install", "post_install")
class TestRestWebhook(OrderImportMixin, HttpCase):
    """A B2B portal that signs with its own header, in base64, no prefix."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.portal = cls.make_backend(
            "B2B portal",
            secret=SECRET,
            adapter="rest",
            kind="b2b_portal",
            rest_signature_header="X-Portal-Signature",
            rest_signature_encoding="base64",
            rest_signature_prefix=False,
            rest_event_id_header="X-Portal-Delivery",
        )

    def post(self, payload, topic="order", signature=None, delivery=None):
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Portal-Signature": signature
            if signature is not None
            else portal_signature(SECRET, body).decode(),
        }
        if delivery:
            headers["X-Portal-Delivery"] = delivery
        return self.url_open(
            self.webhook_path(self.portal, topic), data=body, headers=headers
        )

    def exchanges(self):
        return self.Exchange.search([("backend_id", "=", self.portal.id)])

    def test_configured_signature_is_accepted(self):
        with trap_jobs() as trap:
            response = self.post(self.order_payload(), delivery="d-1")
            trap.assert_jobs_count(1)
        self.assertEqual(response.json()["status"], "accepted")
        exchange = self.exchanges()
        self.assertEqual(exchange.kind, "order")
        self.assertEqual(exchange.external_event_id, "d-1")
        self.assertEqual(json.loads(exchange.headers)["x-portal-delivery"], "d-1")

    def test_other_encodings_and_secrets_are_rejected(self):
        body = json.dumps(self.order_payload()).encode()
        hex_signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.assertEqual(
            self.post(self.order_payload(), signature=hex_signature).status_code, 401
        )
        wrong = portal_signature("another-secret", body).decode()
        self.assertEqual(
            self.post(self.order_payload(), signature=wrong).status_code, 401
        )
        self.assertEqual(self.post(self.order_payload(), signature="").status_code, 401)
        self.assertFalse(self.exchanges())

    def test_configured_event_id_collapses_redeliveries(self):
        self.post(self.order_payload(), delivery="d-2")
        again = self.post(self.order_payload(), delivery="d-2")
        self.assertEqual(again.json()["status"], "duplicate")
        self.assertEqual(len(self.exchanges()), 1)

    def test_signed_event_id_of_the_body_wins_over_the_header(self):
        payload = dict(self.order_payload(), event_id="portal-evt-1")
        first = self.post(payload, delivery="d-header-1").json()
        self.assertEqual(first["status"], "accepted")
        self.assertEqual(self.exchanges().external_event_id, "portal-evt-1")
        # the same signed body again, under another delivery header
        again = self.post(payload, delivery="d-header-2").json()
        self.assertEqual(
            again, {"status": "duplicate", "exchange_id": first["exchange_id"]}
        )
        self.assertEqual(len(self.exchanges()), 1)

    def test_every_canonical_topic_is_accepted_and_others_are_not(self):
        shipment = {
            "order_external_id": "CH-1",
            "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
        }
        self.assertEqual(self.post(shipment, topic="shipment").status_code, 200)
        self.assertEqual(self.exchanges().kind, "shipment")
        self.assertEqual(self.exchanges().external_ref, "CH-1")
        self.assertEqual(self.post(shipment, topic="orders-create").status_code, 404)

    def test_signed_order_becomes_a_confirmed_order(self):
        with trap_jobs() as trap:
            answer = self.post(self.order_payload(), delivery="d-3").json()
            self.run_trapped_jobs(trap)
        exchange = self.Exchange.browse(answer["exchange_id"])
        self.assertEqual(exchange.state, "done", exchange.error)
        order = self.orders("CH-1001", backend=self.portal)
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "sale")

    def test_duplicate_and_stale_deliveries_change_nothing(self):
        with trap_jobs() as trap:
            first = self.post(self.order_payload(), delivery="d-4").json()
            self.run_trapped_jobs(trap)
        order = self.orders("CH-1001", backend=self.portal)
        before = [
            (line.product_id, line.product_uom_qty, line.price_unit)
            for line in order.order_line
        ]
        binding = self.Binding._find(self.portal, "sale.order", "CH-1001")
        applied_at = binding.external_updated_at
        self.assertTrue(applied_at)

        with trap_jobs() as trap:
            # the portal sends the same delivery again
            again = self.post(self.order_payload(), delivery="d-4").json()
            self.assertEqual(
                again, {"status": "duplicate", "exchange_id": first["exchange_id"]}
            )
            trap.assert_jobs_count(0)

            # an older version of the order arrives late, other quantities
            stale = self.order_payload(updated_at="2025-03-01T09:45:00Z")
            stale["lines"][0]["quantity"] = 5
            late = self.post(stale, delivery="d-5").json()
            self.assertEqual(late["status"], "accepted")
            trap.assert_jobs_count(1)
            self.run_trapped_jobs(trap)
        late_exchange = self.Exchange.browse(late["exchange_id"])
        # ignored, with why: its updated_at is older than the one applied
        self.assertEqual(late_exchange.state, "ignored", late_exchange.error)
        self.assertIn(
            "(2025-03-01T09:45:00Z) is older than the one applied "
            "(2025-03-01T10:00:00Z)",
            late_exchange.reason,
        )
        self.assertFalse(late_exchange.exception_ids)
        self.assertEqual(self.orders("CH-1001", backend=self.portal), order)
        self.assertEqual(
            [
                (line.product_id, line.product_uom_qty, line.price_unit)
                for line in order.order_line
            ],
            before,
        )
        self.assertEqual(binding.external_updated_at, applied_at)
        self.assertEqual(len(self.exchanges()), 2)

    def test_captured_shipment_reposted_as_a_return_is_refused(self):
        """The portal's signature covers the body, not the URL: a signed bare
        shipment re-posted to the return topic is stored, then refused."""
        shipment = {
            "external_id": "SH-1",
            "order_external_id": "CH-1001",
            "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
        }
        with trap_jobs() as trap:
            answer = self.post(shipment, topic="return", delivery="d-replay").json()
            self.run_trapped_jobs(trap)
        exchange = self.Exchange.browse(answer["exchange_id"])
        self.assertRecordValues(
            exchange, [{"kind": "return", "state": "refused", "res_id": 0}]
        )
        self.assertIn('"kind": "return"', exchange.reason)
        self.assertFalse(
            self.env["stock.picking"].search([("origin", "ilike", "CH-1001")])
        )
