from odoo.tests.common import HttpCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import WooCommerceTestMixin, fixture


@tagged("-at_install", "post_install")
class TestOrderImport(WooCommerceTestMixin, HttpCase):
    """A signed WooCommerce delivery, through the route and its job, to a
    confirmed sales order."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpWooCommerce()
        cls.Exchange = cls.env["distribution.exchange"].sudo()
        cls.currency = cls.company.currency_id
        Product = cls.env["product.product"]
        cls.mug = Product.create(
            {"name": "Blue mug", "default_code": "WOO-MUG-BLUE", "type": "consu"}
        )
        cls.shirt = Product.create(
            {"name": "Idea shirt black M", "default_code": "IDEA-M", "type": "consu"}
        )
        # the variation has no SKU in WooCommerce: a SKU mapping binds it
        cls.env["distribution.binding"].create(
            {
                "backend_id": cls.backend.id,
                "res_model": "product.product",
                "res_id": cls.shirt.id,
                "external_id": "variation:23",
            }
        )
        cls.tax = cls.make_sales_tax(20.0)
        cls.shipping_product = cls.backend.shipping_product_id

    @classmethod
    def make_sales_tax(cls, rate):
        company = cls.company
        country = (
            company.account_fiscal_country_id
            or company.country_id
            or cls.env.ref("base.us")
        )
        group = cls.env["account.tax.group"].create(
            {
                "name": f"Woo tax {rate}",
                "company_id": company.id,
                "country_id": country.id,
            }
        )
        return cls.env["account.tax"].create(
            {
                "name": f"Woo sales tax {rate} %",
                "amount": rate,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "company_id": company.id,
                "country_id": country.id,
                "tax_group_id": group.id,
                "price_include_override": "tax_excluded",
            }
        )

    def order_payload(self, **changes):
        payload = fixture("order.json")
        payload["currency"] = self.currency.name
        payload.update(changes)
        return payload

    def deliver(self, payload, topic="order.created", delivery_id="d-1"):
        """Post a signed delivery and run the jobs it caused, if any."""
        body, headers = self.woo_delivery(
            self.SECRET, payload, topic=topic, delivery_id=delivery_id
        )
        with trap_jobs() as trap:
            response = self.url_open(
                self.webhook_path(self.backend, "woocommerce"),
                data=body,
                headers=headers,
            )
            self.assertEqual(response.status_code, 200, response.text)
            # what the request enqueued: its backend's dispatcher, or nothing
            jobs = len(trap.enqueued_jobs)
            self.run_trapped_jobs(trap)
        answer = response.json()
        self.env.invalidate_all()
        return self.Exchange.browse(answer["exchange_id"]), answer["status"], jobs

    def orders(self):
        return self.env["sale.order"].search(
            [("distribution_backend_id", "=", self.backend.id)]
        )

    def snapshot(self, order):
        return [
            (
                line.product_id,
                line.product_uom_qty,
                line.price_unit,
                line.discount,
                line.tax_ids.mapped("amount"),
            )
            for line in order.order_line
        ]

    def test_order_created_becomes_one_confirmed_sales_order(self):
        exchange, status, jobs = self.deliver(self.order_payload())
        self.assertEqual((status, jobs), ("accepted", 1))
        self.assertEqual(exchange.state, "done", exchange.error)
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(
            (exchange.res_model, exchange.res_id), ("sale.order", order.id)
        )
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_external_id, "727")
        self.assertEqual(order.client_order_ref, "727")
        self.assertEqual(order.partner_id.email, "john.doe@example.com")
        self.assertEqual(order.partner_shipping_id.name, "Jane Doe")
        self.assertEqual(order.partner_shipping_id.zip, "94105")
        mug, _shirt, shipping = order.order_line.sorted("sequence")
        self.assertEqual(
            self.snapshot(order),
            [
                (self.mug, 2.0, 12.0, 10.0, [20.0]),
                (self.shirt, 1.0, 12.0, 0.0, [20.0]),
                (self.shipping_product, 1.0, 10.0, 0.0, [20.0]),
            ],
        )
        self.assertEqual(shipping.name, "Flat Rate")
        self.assertAlmostEqual(mug.price_subtotal, 21.6)
        self.assertAlmostEqual(order.amount_untaxed, 43.6)
        self.assertAlmostEqual(order.amount_tax, 8.72)
        self.assertAlmostEqual(order.amount_total, 52.32)
        self.assertFalse(
            order.message_ids.filtered(lambda m: "check taxes" in (m.body or "")),
            "the channel's total matches Odoo's",
        )

    def test_order_of_woocommerce_before_3_7_is_taxed_at_its_rates(self):
        # no rate_percent on its tax lines: the rates come from the amounts
        reduced = self.make_sales_tax(5.5)
        payload = dict(fixture("order_before_3_7.json"), currency=self.currency.name)
        exchange, _status, _jobs = self.deliver(payload)
        self.assertEqual(exchange.state, "done", exchange.error)
        order = self.orders()
        self.assertEqual(
            self.snapshot(order),
            [
                (self.mug, 2.0, 12.0, 10.0, [20.0]),
                (self.shirt, 1.0, 12.0, 0.0, [5.5]),
                (self.shipping_product, 1.0, 10.0, 0.0, [20.0]),
            ],
        )
        self.assertEqual(order.order_line.sorted("sequence")[1].tax_ids, reduced)
        self.assertAlmostEqual(order.amount_untaxed, 43.6)
        self.assertAlmostEqual(order.amount_tax, 6.98)
        self.assertAlmostEqual(order.amount_total, 50.58)
        self.assertFalse(
            order.message_ids.filtered(lambda m: "check taxes" in (m.body or "")),
            "the channel's total matches Odoo's",
        )

    def test_duplicate_and_stale_deliveries_change_nothing(self):
        payload = self.order_payload()
        self.deliver(payload, delivery_id="first")
        order = self.orders()
        before = self.snapshot(order)

        # WooCommerce delivers the same order again (new delivery id)
        exchange, status, jobs = self.deliver(payload, delivery_id="second")
        self.assertEqual((status, jobs), ("duplicate", 0))

        # an older version arrives late: other quantity, earlier modification
        stale = self.order_payload(date_modified_gmt="2025-03-22T19:28:05")
        stale["line_items"][0]["quantity"] = 5
        exchange, status, jobs = self.deliver(
            stale, topic="order.updated", delivery_id="late"
        )
        self.assertEqual((status, jobs), ("accepted", 1))
        # ignored, with why: its date_modified_gmt is older than the one applied
        self.assertEqual(exchange.state, "ignored", exchange.error)
        self.assertIn(
            "(2025-03-22T19:28:05Z) is older than the one applied "
            "(2025-03-22T19:28:08Z)",
            exchange.reason,
        )
        self.assertEqual(self.orders(), order)
        self.assertEqual(self.snapshot(order), before)
        self.assertEqual(order.state, "sale")
        self.assertEqual(
            self.Exchange.search_count([("backend_id", "=", self.backend.id)]), 2
        )

    def test_cancelled_update_cancels_the_sales_order(self):
        self.deliver(self.order_payload(), delivery_id="created")
        order = self.orders()
        self.assertEqual(order.state, "sale")
        cancelled = self.order_payload(
            status="cancelled", date_modified_gmt="2025-03-22T20:00:00"
        )
        exchange, status, _jobs = self.deliver(
            cancelled, topic="order.updated", delivery_id="cancelled"
        )
        self.assertEqual(status, "accepted")
        self.assertEqual(exchange.kind, "order")
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(self.orders(), order)
        self.assertEqual(order.state, "cancel")

    def test_older_cancelled_version_does_not_cancel(self):
        self.deliver(self.order_payload(), delivery_id="created")
        order = self.orders()
        # a cancelled version older than the one applied (the shop owner
        # cancelled, then restored the order; the deliveries crossed)
        cancelled = self.order_payload(
            status="cancelled", date_modified_gmt="2025-03-22T19:28:01"
        )
        exchange, status, _jobs = self.deliver(
            cancelled, topic="order.updated", delivery_id="cancelled-late"
        )
        self.assertEqual(status, "accepted")
        self.assertEqual(exchange.state, "ignored", exchange.error)
        self.assertIn("is older than the one applied", exchange.reason)
        self.assertEqual(order.state, "sale")
