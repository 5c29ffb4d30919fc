from odoo import Command, fields
from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import OrderImportMixin


def at(value):
    return fields.Datetime.to_datetime(value)


class TestOrderImport(OrderImportMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.uk = cls.env.ref("base.uk")

    def order_binding(self, external_id="CH-1001", backend=None):
        return self.Binding._find(backend or self.backend, "sale.order", external_id)

    def lines_snapshot(self, order):
        return [
            (line.product_id, line.product_uom_qty, line.price_unit, line.discount)
            for line in order.order_line
        ]

    def count_partners(self):
        return self.env["res.partner"].with_context(active_test=False).search_count([])

    # -- a good order ------------------------------------------------------------

    def test_good_order_is_confirmed(self):
        exchange = self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertRecordValues(
            order,
            [
                {
                    "state": "sale",
                    "client_order_ref": "#1001",
                    "distribution_backend_id": self.backend.id,
                    "distribution_external_id": "CH-1001",
                    "company_id": self.company.id,
                    "currency_id": self.currency.id,
                    "date_order": at("2025-03-01 09:30:00"),
                    "amount_untaxed": 35.0,
                    "amount_tax": 7.0,
                    "amount_total": 42.0,
                }
            ],
        )
        self.assertIn("Leave at the door", order.note)
        self.assertRecordValues(
            exchange,
            [
                {
                    "state": "done",
                    "res_model": "sale.order",
                    "res_id": order.id,
                    "attempts": 1,
                }
            ],
        )
        self.assertFalse(exchange.exception_ids)

        blue = order.order_line.filtered(lambda line: line.product_id == self.mug_blue)
        self.assertRecordValues(
            blue,
            [
                {
                    "name": "Blue mug",
                    "product_uom_qty": 2.0,
                    "price_unit": 12.0,
                    "discount": 10.0,
                    "price_subtotal": 2 * 12.0 - 2.4,
                }
            ],
        )
        self.assertEqual(blue.tax_ids, self.tax_20)
        red = order.order_line.filtered(lambda line: line.product_id == self.mug_red)
        self.assertRecordValues(
            red,
            [
                {
                    "product_uom_qty": 1.0,
                    "price_unit": 8.5,
                    "discount": 0.0,
                    "price_subtotal": 8.5,
                }
            ],
        )
        self.assertEqual(red.tax_ids, self.tax_20)

        self.assertEqual(self.backend.shipping_product_id, self.shipping_product)
        shipping = order.order_line.filtered(
            lambda line: line.product_id == self.shipping_product
        )
        self.assertRecordValues(
            shipping,
            [{"name": "Standard shipping", "product_uom_qty": 1.0, "price_unit": 4.9}],
        )
        self.assertEqual(shipping.tax_ids, self.tax_20)
        self.assertEqual(len(order.order_line), 3)

        binding = self.order_binding()
        self.assertEqual(len(binding), 1)
        self.assertEqual(binding.res_id, order.id)
        self.assertEqual(binding.record_ref, order)
        self.assertEqual(binding.external_updated_at, at("2025-03-01 10:00:00"))
        self.assertEqual(order.distribution_exchange_count, 1)
        self.assertFalse(
            order.message_ids.filtered(
                lambda m: "check taxes and discounts" in (m.body or "")
            )
        )

    def test_discount_the_percentage_cannot_carry_is_netted(self):
        payload = self.order_payload(
            lines=[
                {
                    "sku": "MUG-BLUE",
                    "quantity": 1,
                    "unit_price": 1000.0,
                    "discount_amount": 0.05,
                }
            ],
            shipping=[],
            total=999.95,
        )
        self.import_order(payload)
        line = self.orders().order_line
        self.assertEqual(line.discount, 0.0)
        self.assertAlmostEqual(line.price_unit, 999.95)
        self.assertAlmostEqual(line.price_subtotal, 1 * 1000.0 - 0.05)
        self.assertFalse(line.tax_ids, "no taxes sent, none applied")

    def test_total_mismatch_is_noted(self):
        self.import_order(self.order_payload(total=40.0))
        order = self.orders()
        self.assertEqual(order.state, "sale")
        self.assertTrue(
            order.message_ids.filtered(
                lambda m: "check taxes and discounts" in (m.body or "")
            )
        )

    def test_taxes_included(self):
        included = self.make_tax(20.0, included=True)
        self.import_order(self.order_payload(taxes_included=True, total=35.0))
        order = self.orders()
        self.assertEqual(order.order_line.tax_ids, included)
        self.assertAlmostEqual(order.amount_total, 35.0)

    def test_auto_confirm_off_leaves_quotation(self):
        self.backend.auto_confirm = False
        exchange = self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "draft")
        self.assertEqual(len(order.order_line), 3)
        self.assertEqual(exchange.state, "done")

    # -- customers ------------------------------------------------------------------

    def test_new_customer_in_backend_company(self):
        self.import_order(self.order_payload())
        order = self.orders()
        partner = order.partner_id
        self.assertRecordValues(
            partner,
            [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "phone": "+44 20 7946 0000",
                    "company_id": self.company.id,
                    "street": "12 Analytical Row",
                    "city": "London",
                    "zip": "N1 9GU",
                    "country_id": self.uk.id,
                    "parent_id": False,
                }
            ],
        )
        self.assertEqual(order.partner_invoice_id, partner)
        self.assertEqual(order.partner_shipping_id, partner)
        binding = self.Binding._find(self.backend, "res.partner", "CUST-1")
        self.assertEqual(binding.res_id, partner.id)

        # the next order of the same customer finds it through its binding
        partners = self.count_partners()
        customer = dict(self.order_payload()["customer"], email="ada.new@example.com")
        self.import_order(self.order_payload(external_id="CH-1002", customer=customer))
        self.assertEqual(self.orders("CH-1002").partner_id, partner)
        self.assertEqual(self.count_partners(), partners)

    def test_existing_partner_by_email_ignoring_case(self):
        existing = self.env["res.partner"].create(
            {
                "name": "Ada Lovelace",
                "email": "ADA@Example.COM",
                "street": "12 Analytical Row",
                "city": "London",
                "zip": "N1 9GU",
                "country_id": self.uk.id,
            }
        )
        partners = self.count_partners()
        self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(order.partner_id, existing)
        self.assertEqual(order.partner_invoice_id, existing)
        self.assertEqual(order.partner_shipping_id, existing)
        self.assertEqual(self.count_partners(), partners)
        self.assertEqual(
            self.Binding._find(self.backend, "res.partner", "CUST-1").res_id,
            existing.id,
        )

    def test_email_is_not_a_pattern(self):
        """An underscore in an email is a character, not a wildcard."""
        other = self.env["res.partner"].create(
            {"name": "Adax Lovelace", "email": "adaxlovelace@example.com"}
        )
        customer = {"name": "Ada Lovelace", "email": "ada_lovelace@example.com"}
        self.import_order(self.order_payload(customer=customer))
        partner = self.orders().partner_id
        self.assertNotEqual(partner, other)
        self.assertEqual(partner.email, "ada_lovelace@example.com")

    def test_existing_partner_by_name_street_zip(self):
        existing = self.env["res.partner"].create(
            {
                "name": "Ada Lovelace",
                "street": "12 Analytical Row",
                "city": "London",
                "zip": "N1 9GU",
                "country_id": self.uk.id,
            }
        )
        partners = self.count_partners()
        customer = {"name": "ada lovelace", "email": "countess@example.com"}
        self.import_order(self.order_payload(customer=customer))
        order = self.orders()
        self.assertEqual(order.partner_id, existing)
        self.assertEqual(order.partner_invoice_id, existing)
        self.assertEqual(self.count_partners(), partners)

    def test_same_name_elsewhere_is_another_customer(self):
        elsewhere = self.env["res.partner"].create(
            {"name": "Ada Lovelace", "street": "5 Other Street", "zip": "N1 9GU"}
        )
        self.import_order(self.order_payload(customer={"name": "Ada Lovelace"}))
        partner = self.orders().partner_id
        self.assertNotEqual(partner, elsewhere)
        self.assertEqual(partner.street, "12 Analytical Row")

    def test_delivery_address_becomes_child_contact(self):
        shipping_address = {
            "name": "Charles Babbage",
            "street": "1 Engine Street",
            "city": "London",
            "zip": "SW1A 1AA",
            "country_code": "GB",
            "phone": "+44 20 7946 0001",
        }
        self.import_order(self.order_payload(shipping_address=shipping_address))
        order = self.orders()
        partner = order.partner_id
        self.assertEqual(order.partner_invoice_id, partner)
        delivery = order.partner_shipping_id
        self.assertNotEqual(delivery, partner)
        self.assertRecordValues(
            delivery,
            [
                {
                    "parent_id": partner.id,
                    "type": "delivery",
                    "name": "Charles Babbage",
                    "street": "1 Engine Street",
                    "zip": "SW1A 1AA",
                    "country_id": self.uk.id,
                    "company_id": self.company.id,
                }
            ],
        )
        self.assertEqual(order.picking_ids.partner_id, delivery)

        # the same delivery address later is the same contact
        self.import_order(
            self.order_payload(external_id="CH-1002", shipping_address=shipping_address)
        )
        self.assertEqual(self.orders("CH-1002").partner_shipping_id, delivery)

    def test_unknown_country(self):
        billing = dict(self.order_payload()["billing_address"], country_code="QQ")
        exchange = self.import_order(self.order_payload(billing_address=billing))
        exception = self.assertOneException(exchange, "unknown_country")
        self.assertEqual(exception.key, "QQ")
        self.assertFalse(self.orders())

    # -- products -------------------------------------------------------------------

    def test_sku_mapping_binding(self):
        teapot = self.make_product("Teapot", "INTERNAL-42", 30.0)
        self.map_sku(self.backend, "CH-TEAPOT", teapot)
        payload = self.order_payload(
            lines=[{"sku": "CH-TEAPOT", "quantity": 1, "unit_price": 30.0}],
            shipping=[],
            total=30,
        )
        self.import_order(payload)
        order = self.orders()
        self.assertEqual(order.order_line.product_id, teapot)
        self.assertAlmostEqual(order.amount_total, 30.0)

    def test_sku_mapping_is_per_backend(self):
        teapot = self.make_product("Teapot", "INTERNAL-42", 30.0)
        other_backend = self.make_backend("Other channel")
        self.map_sku(other_backend, "CH-TEAPOT", teapot)
        payload = self.order_payload(
            lines=[{"sku": "CH-TEAPOT", "quantity": 1, "unit_price": 30.0}]
        )
        exchange = self.import_order(payload)
        self.assertOneException(exchange, "unknown_sku")

    def test_ambiguous_sku(self):
        self.make_product("Blue mug (old)", "MUG-BLUE", 12.0)
        exchange = self.import_order(self.order_payload())
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertIn("matches several products", exception.message)
        self.assertEqual(exception.json_path, "$.lines[0].sku")

    def test_unknown_sku_then_mapping_and_retry(self):
        partners = self.count_partners()
        payload = self.order_payload()
        payload["lines"][1]["sku"] = "MUG-GREEN"
        exchange = self.import_order(payload)

        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "MUG-GREEN")
        self.assertEqual(exception.json_path, "$.lines[1].sku")
        self.assertIn("MUG-GREEN", exception.message)
        self.assertEqual(exception.name, "Unknown SKU MUG-GREEN (CH-1001)")
        self.assertFalse(self.orders())
        self.assertEqual(self.count_partners(), partners, "no customer half-created")
        self.assertFalse(self.Binding.search([("backend_id", "=", self.backend.id)]))
        self.assertEqual(self.backend.exception_count, 1)

        green = self.make_product("Green mug", "INTERNAL-GREEN", 8.5)
        self.map_sku(self.backend, "MUG-GREEN", green)
        with trap_jobs() as trap:
            exception.action_retry()
            trap.assert_jobs_count(1, only=exchange.process)
            self.assertEqual(trap.enqueued_jobs[0].recordset, exchange)
            trap.perform_enqueued_jobs()

        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "sale")
        self.assertIn(green, order.order_line.product_id)
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exchange.attempts, 2)
        self.assertEqual(exception.state, "resolved")
        self.assertTrue(exception.resolved_at)
        self.backend.invalidate_recordset(["exception_count"])
        self.assertEqual(self.backend.exception_count, 0)

        # retrying again does nothing
        with trap_jobs() as trap:
            exception.action_retry()
            exchange.action_retry()
            trap.assert_jobs_count(0)
        self.assertIn("nothing to do", exchange.process())
        self.assertEqual(len(self.orders()), 1)

    def test_several_unknown_skus_are_listed(self):
        payload = self.order_payload()
        payload["lines"][0]["sku"] = "MUG-GREEN"
        payload["lines"][1]["sku"] = "MUG-PINK"
        exchange = self.import_order(payload)
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "MUG-GREEN")
        self.assertEqual(exception.json_path, "$.lines[0].sku")
        self.assertIn("Also unknown: MUG-PINK", exception.message)

    def test_double_click_on_retry_enqueues_one_job(self):
        payload = self.order_payload()
        payload["lines"][0]["sku"] = "MUG-GREEN"
        exchange = self.import_order(payload)
        with trap_jobs() as trap:
            exchange.exception_ids.action_retry()
            exchange.exception_ids.action_retry()
            trap.assert_jobs_count(1, only=exchange.process)

    # -- idempotency and later events ------------------------------------------------

    def test_same_event_processed_twice(self):
        payload = self.order_payload()
        exchange = self.import_order(payload)
        self.assertIn("nothing to do", exchange.process())
        self.assertEqual(exchange.attempts, 1)
        self.assertEqual(len(self.orders()), 1)
        # stored again by the webhook: the same exchange, nothing new
        self.assertEqual(self.receive(payload), exchange)
        self.assertEqual(
            self.Exchange.search_count([("backend_id", "=", self.backend.id)]), 1
        )

    def test_same_order_under_two_event_ids(self):
        payload = self.order_payload()
        first = self.import_order(payload, event_id="evt-1")
        second = self.import_order(payload, event_id="evt-2")
        self.assertNotEqual(first, second)
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertRecordValues(
            second, [{"state": "done", "res_model": "sale.order", "res_id": order.id}]
        )
        self.assertEqual(
            self.Binding.search_count(
                [("backend_id", "=", self.backend.id), ("res_model", "=", "sale.order")]
            ),
            1,
        )

    def test_stale_update_changes_nothing(self):
        self.backend.auto_confirm = False
        self.import_order(self.order_payload(updated_at="2025-03-02T10:00:00Z"))
        order = self.orders()
        before = self.lines_snapshot(order)
        stale = self.order_payload(
            updated_at="2025-03-01T08:00:00Z",
            lines=[{"sku": "MUG-RED", "quantity": 9, "unit_price": 1.0}],
            note="older",
        )
        exchange = self.import_order(stale, event_id="evt-stale")
        # ignored, with why, and still pointing to its order
        self.assertEqual(exchange.state, "ignored")
        self.assertEqual(
            exchange.reason,
            "This version of order CH-1001 (2025-03-01T08:00:00Z) is older than "
            f"the one applied (2025-03-02T10:00:00Z): {order.name} was not changed.",
        )
        self.assertEqual(
            (exchange.res_model, exchange.res_id), ("sale.order", order.id)
        )
        self.assertFalse(exchange.exception_ids)
        self.assertEqual(self.orders(), order)
        self.assertEqual(self.lines_snapshot(order), before)
        self.assertNotIn("older", order.note)
        self.assertEqual(
            self.order_binding().external_updated_at, at("2025-03-02 10:00:00")
        )

    def test_newer_update_replaces_draft_lines(self):
        self.backend.auto_confirm = False
        self.import_order(self.order_payload())
        order = self.orders()
        newer = self.order_payload(
            updated_at="2025-03-01T11:00:00Z",
            lines=[
                {
                    "sku": "MUG-RED",
                    "quantity": 5,
                    "unit_price": 8.0,
                    "taxes": [{"rate": 20}],
                }
            ],
            total=53.88,
        )
        exchange = self.import_order(newer, event_id="evt-2")
        self.assertRecordValues(exchange, [{"state": "done", "res_id": order.id}])
        self.assertEqual(self.orders(), order)
        self.assertEqual(order.state, "draft")
        self.assertEqual(
            self.lines_snapshot(order),
            [(self.mug_red, 5.0, 8.0, 0.0), (self.shipping_product, 1.0, 4.9, 0.0)],
        )
        self.assertAlmostEqual(order.amount_total, 53.88)
        self.assertEqual(
            self.order_binding().external_updated_at, at("2025-03-01 11:00:00")
        )

    def test_changed_lines_of_confirmed_order(self):
        self.import_order(self.order_payload())
        order = self.orders()
        before = self.lines_snapshot(order)
        changed = self.order_payload(updated_at="2025-03-01T11:00:00Z")
        changed["lines"][0]["quantity"] = 3
        exchange = self.import_order(changed, event_id="evt-2")
        exception = self.assertOneException(exchange, "order_changed")
        self.assertEqual(exception.key, "CH-1001")
        self.assertIn(order.name, exception.message)
        self.assertEqual(self.orders(), order)
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.lines_snapshot(order), before)
        self.assertAlmostEqual(order.amount_total, 42.0)
        self.assertEqual(
            self.order_binding().external_updated_at, at("2025-03-01 10:00:00")
        )

    def test_status_update_of_confirmed_order(self):
        """A newer event with the same lines (2 written 2.0, 12.0 written 12)
        is no change for fulfilment."""
        self.import_order(self.order_payload(status="open"))
        order = self.orders()
        paid = self.order_payload(updated_at="2025-03-01T11:00:00Z", status="paid")
        paid["lines"][0].update(quantity=2.0, unit_price=12)
        exchange = self.import_order(paid, event_id="evt-2")
        self.assertRecordValues(exchange, [{"state": "done", "res_id": order.id}])
        self.assertFalse(exchange.exception_ids)
        self.assertEqual(
            self.order_binding().external_updated_at, at("2025-03-01 11:00:00")
        )

    def test_quotation_edited_then_confirmed_by_hand(self):
        """The channel's last applied version is what later events compare to."""
        self.backend.auto_confirm = False
        self.import_order(self.order_payload())
        edited = self.order_payload(updated_at="2025-03-01T11:00:00Z")
        edited["lines"][0]["quantity"] = 3
        self.import_order(edited, event_id="evt-2")
        order = self.orders()
        order.action_confirm()
        paid = dict(edited, updated_at="2025-03-01T12:00:00Z")
        exchange = self.import_order(paid, event_id="evt-3")
        self.assertEqual(exchange.state, "done")
        self.assertFalse(exchange.exception_ids)

    def test_deleted_order_is_imported_again(self):
        self.backend.auto_confirm = False
        self.import_order(self.order_payload())
        self.orders().unlink()
        exchange = self.import_order(
            self.order_payload(updated_at="2025-03-01T11:00:00Z"), event_id="evt-2"
        )
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(exchange.res_id, order.id)
        self.assertEqual(self.order_binding().res_id, order.id)

    # -- money ----------------------------------------------------------------------

    def _other_currency(self):
        code = "EUR" if self.currency.name != "EUR" else "USD"
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)])
        )
        currency.active = True
        return currency

    def test_currency_mismatch(self):
        other = self._other_currency()
        exchange = self.import_order(self.order_payload(currency=other.name))
        exception = self.assertOneException(exchange, "currency_mismatch")
        self.assertEqual(exception.key, other.name)
        self.assertEqual(exception.json_path, "$.currency")
        self.assertFalse(self.orders())

    def test_currency_of_the_backend_pricelist(self):
        other = self._other_currency()
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "Channel prices",
                "currency_id": other.id,
                "company_id": self.company.id,
            }
        )
        self.backend.pricelist_id = pricelist
        self.import_order(self.order_payload(currency=other.name))
        order = self.orders()
        self.assertRecordValues(
            order,
            [
                {
                    "currency_id": other.id,
                    "pricelist_id": pricelist.id,
                    "amount_total": 42.0,
                }
            ],
        )
        # and the company currency is now the mismatch
        exchange = self.import_order(self.order_payload(external_id="CH-1002"))
        self.assertOneException(exchange, "currency_mismatch")

    def test_unknown_currency(self):
        exchange = self.import_order(self.order_payload(currency="ZZZ"))
        exception = self.assertOneException(exchange, "currency_mismatch")
        self.assertEqual(exception.key, "ZZZ")

    def test_unknown_tax_rate(self):
        payload = self.order_payload()
        payload["lines"][1]["taxes"] = [{"rate": 7.7}]
        exchange = self.import_order(payload)
        exception = self.assertOneException(exchange, "unknown_tax")
        self.assertEqual(exception.key, "7.7%")
        self.assertEqual(exception.json_path, "$.lines[1].taxes[0].rate")
        self.assertFalse(self.orders())

    def test_tax_included_flag_must_match(self):
        exchange = self.import_order(self.order_payload(taxes_included=True))
        exception = self.assertOneException(exchange, "unknown_tax")
        self.assertEqual(exception.key, "20%")

    def test_no_shipping_product(self):
        self.backend.shipping_product_id = False
        exchange = self.import_order(self.order_payload())
        exception = self.assertOneException(exchange, "configuration")
        self.assertEqual(exception.json_path, "$.shipping[0]")

    # -- warehouse routing ------------------------------------------------------------

    def _two_warehouses(self):
        Warehouse = self.env["stock.warehouse"]
        north = Warehouse.create(
            {"name": "North", "code": "NTH", "company_id": self.company.id}
        )
        south = Warehouse.create(
            {"name": "South", "code": "STH", "company_id": self.company.id}
        )
        self.backend.warehouse_line_ids = [
            Command.create({"warehouse_id": north.id, "sequence": 1}),
            Command.create({"warehouse_id": south.id, "sequence": 2}),
        ]
        (self.mug_blue | self.mug_red).is_storable = True
        return north, south

    def test_routed_to_warehouse_with_stock(self):
        north, south = self._two_warehouses()
        self.assertEqual(self.backend.warehouse_ids, north | south)
        Quant = self.env["stock.quant"]
        Quant._update_available_quantity(self.mug_blue, south.lot_stock_id, 5)
        Quant._update_available_quantity(self.mug_red, south.lot_stock_id, 5)
        Quant._update_available_quantity(self.mug_blue, north.lot_stock_id, 10)
        self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(order.warehouse_id, south)
        self.assertEqual(order.picking_ids.picking_type_id.warehouse_id, south)

    def test_routed_to_first_warehouse_when_none_can_serve(self):
        north, south = self._two_warehouses()
        Quant = self.env["stock.quant"]
        Quant._update_available_quantity(self.mug_blue, south.lot_stock_id, 1)
        Quant._update_available_quantity(self.mug_red, north.lot_stock_id, 5)
        self.import_order(self.order_payload())
        self.assertEqual(self.orders().warehouse_id, north)

    # -- review queue ------------------------------------------------------------------

    def test_ignore_wizard(self):
        payload = self.order_payload()
        payload["lines"][0]["sku"] = "MUG-GREEN"
        exchange = self.import_order(payload)
        exception = exchange.exception_ids
        action = exception.action_open_ignore_wizard()
        wizard = (
            self.env[action["res_model"]]
            .with_context(**action["context"])
            .create({"reason": "Test order placed by the channel's QA"})
        )
        self.assertEqual(wizard.exception_ids, exception)
        wizard.action_ignore()
        self.assertRecordValues(
            exception,
            [
                {
                    "state": "ignored",
                    "ignore_reason": "Test order placed by the channel's QA",
                }
            ],
        )
        self.assertTrue(exception.resolved_at)
        self.assertEqual(exchange.state, "ignored")
        self.assertIn("nothing to do", exchange.process())
        with trap_jobs() as trap:
            exception.action_retry()
            trap.assert_jobs_count(0)
        self.assertFalse(self.orders())
