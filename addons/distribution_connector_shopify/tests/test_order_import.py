"""End to end: a signed Shopify orders/create webhook becomes one confirmed
sales order; duplicates and stale updates change nothing."""

from odoo import fields
from odoo.tests.common import HttpCase, tagged

from odoo.addons.distribution_sync.tests.common import OrderImportMixin
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import ShopifyTestMixin

ORDER_ID = "5810000001001"


@tagged("-at_install", "post_install")
class TestShopifyOrderImport(ShopifyTestMixin, OrderImportMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.backend = cls.make_shopify_backend("Shopify shop", secret=cls.secret)
        # the red mug has no SKU on Shopify: its variant is mapped instead
        cls.map_sku(cls.backend, "variant:40000000000002", cls.mug_red)

    def payload(self, **overrides):
        return self.order_fixture(currency=self.currency.name, **overrides)

    def deliver(self, payload, event_id, topic="orders/create", triggered_at=None):
        body, headers = self.shopify_delivery(
            self.secret,
            payload,
            topic=topic,
            event_id=event_id,
            triggered_at=triggered_at,
        )
        response = self.url_open(
            self.webhook_path(self.backend, "shopify"), data=body, headers=headers
        )
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def perform(self, trap):
        """Run what the requests enqueued: the backend's dispatcher, then the
        processing jobs it enqueues (in the test's environment: the requests
        that enqueued them have closed their cursors)."""
        self.run_trapped_jobs(trap)

    def snapshot(self, order):
        return [
            (
                line.product_id.default_code,
                line.product_uom_qty,
                line.price_unit,
                line.discount,
                line.tax_ids.ids,
            )
            for line in order.order_line
        ]

    def test_signed_order_becomes_one_confirmed_sale_order(self):
        with trap_jobs() as trap:
            answer = self.deliver(self.payload(), "evt-create-1")
            self.assertEqual(answer["status"], "accepted")
            self.assertFalse(self.orders(), "nothing is applied inside the request")
            trap.assert_jobs_count(1)
            self.perform(trap)
        order = self.orders(ORDER_ID)
        self.assertEqual(len(order), 1)
        self.assertRecordValues(
            order,
            [
                {
                    "state": "sale",
                    "client_order_ref": "#1001",
                    "currency_id": self.currency.id,
                    "date_order": fields.Datetime.to_datetime("2025-03-01 09:30:00"),
                    "amount_untaxed": 35.0,
                    "amount_tax": 7.0,
                    "amount_total": 42.0,
                }
            ],
        )
        lines = self.product_lines(order)
        blue = lines.filtered(lambda line: line.product_id == self.mug_blue)
        red = lines.filtered(lambda line: line.product_id == self.mug_red)
        self.assertRecordValues(
            blue | red,
            [
                {
                    "product_id": self.mug_blue.id,
                    "product_uom_qty": 2.0,
                    "price_unit": 12.0,
                    "discount": 10.0,
                    "price_subtotal": 21.6,
                },
                {
                    "product_id": self.mug_red.id,
                    "product_uom_qty": 1.0,
                    "price_unit": 8.5,
                    "discount": 0.0,
                    "price_subtotal": 8.5,
                },
            ],
        )
        self.assertEqual((blue | red).tax_ids, self.tax_20)
        shipping = order.order_line - blue - red
        self.assertRecordValues(
            shipping,
            [
                {
                    "product_id": self.shipping_product.id,
                    "price_unit": 4.9,
                    "name": "Standard Shipping",
                }
            ],
        )
        self.assertEqual(shipping.tax_ids, self.tax_20)
        self.assertEqual(order.partner_id.email, "ada@example.com")
        self.assertEqual(order.partner_shipping_id.state_id.code, "NY")
        exchange = self.Exchange.browse(answer["exchange_id"])
        self.assertEqual((exchange.state, exchange.res_id), ("done", order.id))

    def test_duplicate_and_stale_deliveries_change_nothing(self):
        with trap_jobs() as trap:
            first = self.deliver(self.payload(), "evt-create-2")
            self.perform(trap)
            order = self.orders(ORDER_ID)
            before = self.snapshot(order)
            binding = self.Binding._find(self.backend, "sale.order", ORDER_ID)
            applied_at = binding.external_updated_at

            # Shopify delivers the same event again
            again = self.deliver(self.payload(), "evt-create-2")
            self.assertEqual(
                again, {"status": "duplicate", "exchange_id": first["exchange_id"]}
            )
            trap.assert_jobs_count(0)

            # an older orders/updated arrives late, with other quantities
            stale = self.payload(updated_at="2025-03-01T04:45:00-05:00")
            stale["line_items"][0]["quantity"] = 5
            late = self.deliver(
                stale,
                "evt-update-old",
                topic="orders/updated",
                triggered_at="2025-03-01T09:45:00Z",
            )
            self.assertEqual(late["status"], "accepted")
            trap.assert_jobs_count(1)
            self.perform(trap)
        self.assertEqual(self.orders(ORDER_ID), order)
        self.assertEqual(self.snapshot(order), before)
        self.assertEqual(binding.external_updated_at, applied_at)
        late_exchange = self.Exchange.browse(late["exchange_id"])
        # ignored, with why, and still pointing to its order
        self.assertEqual(late_exchange.state, "ignored")
        self.assertIn("is older than the one applied", late_exchange.reason)
        self.assertEqual(
            (late_exchange.res_model, late_exchange.res_id), ("sale.order", order.id)
        )
        self.assertFalse(late_exchange.exception_ids)

    def test_order_body_replayed_as_a_cancellation_is_refused(self):
        order_body = self.payload()
        with trap_jobs() as trap:
            self.deliver(order_body, "evt-create-3")
            self.perform(trap)
        order = self.orders(ORDER_ID)
        self.assertEqual(order.state, "sale")
        binding = self.Binding._find(self.backend, "sale.order", ORDER_ID)
        applied_at = binding.external_updated_at

        # the captured body and its valid HMAC, re-sent under another topic
        # and a new event id: neither header is signed
        with trap_jobs() as trap:
            replay = self.deliver(order_body, "evt-forged-1", topic="orders/cancelled")
            self.assertEqual(replay["status"], "accepted")
            self.perform(trap)
        refused = self.Exchange.browse(replay["exchange_id"])
        self.assertEqual(refused.state, "refused")
        self.assertIn("has no cancelled_at", refused.reason)
        self.assertFalse(refused.exception_ids)
        self.assertEqual(order.state, "sale")
        self.assertEqual(binding.external_updated_at, applied_at)
        # what ops filter the exchanges list on (its "Refused" filter)
        self.assertEqual(
            self.Exchange.search(
                [("backend_id", "=", self.backend.id), ("state", "=", "refused")]
            ),
            refused,
        )
        # retrying cannot apply it either
        refused.action_retry()
        self.assertEqual(refused.state, "refused")

        # the same body replayed as an update is the version applied already
        with trap_jobs() as trap:
            replay = self.deliver(order_body, "evt-forged-2", topic="orders/updated")
            self.perform(trap)
        self.assertEqual(self.Exchange.browse(replay["exchange_id"]).state, "done")
        self.assertEqual(order.state, "sale")
        self.assertEqual(binding.external_updated_at, applied_at)

        # Shopify's own cancellation, with cancelled_at, still cancels
        cancelled = self.payload(
            cancelled_at="2025-03-02T09:15:00-05:00",
            updated_at="2025-03-02T09:15:00-05:00",
            cancel_reason="customer",
        )
        with trap_jobs() as trap:
            answer = self.deliver(cancelled, "evt-cancel-1", topic="orders/cancelled")
            self.perform(trap)
        self.assertEqual(self.Exchange.browse(answer["exchange_id"]).state, "done")
        self.assertEqual(order.state, "cancel")
        # and an order update older than the cancellation changes nothing
        older = self.payload(updated_at="2025-03-02T09:00:00-05:00")
        with trap_jobs() as trap:
            answer = self.deliver(older, "evt-update-2", topic="orders/updated")
            self.perform(trap)
        self.assertEqual(self.Exchange.browse(answer["exchange_id"]).state, "ignored")
        self.assertEqual(order.state, "cancel")
