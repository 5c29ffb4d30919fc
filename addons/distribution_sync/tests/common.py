"""Canonical orders, products and taxes shared by the Distribution Sync tests."""

import copy
import hashlib
import json
import os
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.sql_db import db_connect

from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    DistributionTestMixin,
    encryption_keys,
)
from odoo.addons.queue_job.tests.common import trap_jobs

#: the canonical order most tests start from; ``order_payload`` copies it
BASE_ORDER = {
    "external_id": "CH-1001",
    "name": "#1001",
    "created_at": "2025-03-01T09:30:00Z",
    "updated_at": "2025-03-01T10:00:00Z",
    "currency": "USD",
    "taxes_included": False,
    "status": "paid",
    "note": "Leave at the door",
    "total": 42.0,
    "customer": {
        "external_id": "CUST-1",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
    },
    "billing_address": {
        "name": "Ada Lovelace",
        "street": "12 Analytical Row",
        "city": "London",
        "zip": "N1 9GU",
        "country_code": "GB",
    },
    "lines": [
        {
            "external_id": "L1",
            "sku": "MUG-BLUE",
            "name": "Blue mug",
            "quantity": 2,
            "unit_price": 12.0,
            "discount_amount": 2.4,
            "taxes": [{"name": "VAT", "rate": 20}],
        },
        {
            "external_id": "L2",
            "sku": "MUG-RED",
            "quantity": 1,
            "unit_price": 8.5,
            "taxes": [{"rate": 20}],
        },
    ],
    "shipping": [
        {
            "code": "standard",
            "name": "Standard shipping",
            "price": 4.9,
            "taxes": [{"rate": 20}],
        }
    ],
}


class OrderImportMixin(DistributionTestMixin):
    """A channel selling two mugs taxed at 20 %, and ways to feed it orders."""

    @classmethod
    def setUpOrderImport(cls):
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()
        cls.Exception = cls.env["distribution.exception"].sudo()
        cls.Binding = cls.env["distribution.binding"].sudo()
        cls.currency = cls.company.currency_id
        cls.mug_blue = cls.make_product("Blue mug", "MUG-BLUE", 12.0)
        cls.mug_red = cls.make_product("Red mug", "MUG-RED", 8.5)
        cls.tax_20 = cls.make_tax(20.0)
        cls.shipping_product = cls.env.ref("distribution_sync.product_channel_shipping")

    @classmethod
    def make_product(cls, name, sku, price=10.0, company=None, **vals):
        return cls.env["product.product"].create(
            {
                "name": name,
                "default_code": sku,
                "list_price": price,
                "type": "consu",
                "company_id": company.id if company else False,
                **vals,
            }
        )

    @classmethod
    def make_tax(cls, rate, company=None, included=False):
        company = company or cls.company
        country = (
            company.account_fiscal_country_id
            or company.country_id
            or cls.env.ref("base.us")
        )
        group = cls.env["account.tax.group"].create(
            {
                "name": f"Sales tax {rate} %",
                "company_id": company.id,
                "country_id": country.id,
            }
        )
        return cls.env["account.tax"].create(
            {
                "name": f"Sales tax {rate} %{' included' if included else ''} "
                f"({company.name})",
                "amount": rate,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "company_id": company.id,
                "country_id": country.id,
                "tax_group_id": group.id,
                "price_include_override": "tax_included"
                if included
                else "tax_excluded",
            }
        )

    @classmethod
    def map_sku(cls, backend, sku, product):
        return cls.env["distribution.binding"].create(
            {
                "backend_id": backend.id,
                "res_model": "product.product",
                "res_id": product.id,
                "external_id": sku,
            }
        )

    def order_payload(self, **overrides):
        payload = copy.deepcopy(BASE_ORDER)
        payload["currency"] = self.currency.name
        payload.update(copy.deepcopy(overrides))
        return payload

    def receive(self, payload, event_id=None, backend=None, kind="order"):
        """Store an inbound exchange the way the webhook does (its topic is
        the canonical kind it carries)."""
        backend = backend or self.backend
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        event_id = event_id or "sha256:" + hashlib.sha256(body).hexdigest()
        external_ref = payload.get("external_id") if isinstance(payload, dict) else None
        exchange, _created = self.Exchange._insert_inbound(
            backend,
            kind,
            kind,
            event_id,
            external_ref,
            body,
            "application/json",
            {},
        )
        return exchange

    def import_order(self, payload, event_id=None, backend=None):
        """Receive an order and run its job body; return the exchange."""
        exchange = self.receive(payload, event_id=event_id, backend=backend)
        exchange.process()
        return exchange

    def orders(self, external_id=None, backend=None):
        backend = backend or self.backend
        domain = [("distribution_backend_id", "=", backend.id)]
        if external_id:
            domain.append(("distribution_external_id", "=", external_id))
        return self.env["sale.order"].search(domain)

    def product_lines(self, order):
        return order.order_line.filtered(
            lambda line: line.product_id != self.shipping_product
        )

    def assertOneException(self, exchange, exception_type):
        """The exchange is in error with exactly one open exception of that type."""
        self.assertEqual(exchange.state, "error")
        exceptions = exchange.exception_ids
        self.assertEqual(len(exceptions), 1, exceptions.mapped("message"))
        self.assertEqual(exceptions.type, exception_type, exceptions.message)
        self.assertEqual(exceptions.state, "open")
        return exceptions


class StockFlowMixin(OrderImportMixin):
    """The order import's channel with stock: both mugs storable, ten of
    each in the company's warehouse; orders confirmed, delivered, shipped."""

    @classmethod
    def setUpStockFlows(cls):
        cls.setUpOrderImport()
        (cls.mug_blue | cls.mug_red).is_storable = True
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.Quant = cls.env["stock.quant"]
        for product in cls.mug_blue | cls.mug_red:
            cls.Quant._update_available_quantity(product, cls.stock_location, 10)

    def apply(self, kind, payload, event_id=None, backend=None):
        """Receive an event of ``kind`` and run its job body; the exchange."""
        exchange = self.receive(payload, event_id=event_id, backend=backend, kind=kind)
        exchange.process()
        return exchange

    def confirmed_order(self, external_id="CH-1001", **overrides):
        """An imported, confirmed order (2 blue mugs, 1 red) and its delivery."""
        self.import_order(self.order_payload(external_id=external_id, **overrides))
        order = self.orders(external_id)
        self.assertEqual(order.state, "sale")
        return order, self.delivery(order)

    @staticmethod
    def delivery(order):
        return order.picking_ids.filtered(
            lambda p: (
                p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
            )
        )

    def ship_by_hand(self, picking, quantities=None):
        """Validate a delivery as a user does: every move in full, or the
        given ``{product: quantity}`` and a backorder for the rest."""
        for move in picking.move_ids:
            if quantities is not None:
                move.quantity = quantities.get(move.product_id, 0.0)
            move.picked = True
        picking.with_context(skip_backorder=True).button_validate()
        self.assertEqual(picking.state, "done")
        return picking

    # -- fulfillments sent to a channel played by a FakeServer ------------------

    def import_channel_order(self, topic, event_id, payload, headers):
        """A channel's order stored as its webhook stores it (``topic``,
        ``headers``), then processed; return the confirmed sales order."""
        external_id = str(payload["id"])
        exchange, created = self.Exchange._insert_inbound(
            self.backend,
            topic,
            "order",
            event_id,
            external_id,
            json.dumps(payload).encode(),
            "application/json",
            headers,
        )
        self.assertTrue(created)
        exchange.process()
        self.assertEqual(exchange.state, "done", exchange.error)
        order = self.orders(external_id)
        self.assertEqual(order.state, "sale")
        return order

    def fulfillment_exchange(self, picking):
        """The outbound exchange sending ``picking`` to the test's backend."""
        return self.Exchange.search(
            [
                ("backend_id", "=", self.backend.id),
                ("direction", "=", "out"),
                ("topic", "=", "fulfillment"),
                ("res_id", "=", picking.id),
            ]
        )

    def ship_with_tracking(self, delivery, server, tracking, url, carrier="UPS"):
        """Validate ``delivery`` by hand with its carrier and tracking, then run
        the one fulfillment job it enqueues; nothing reaches ``server``
        during the validation itself. Return the jobs run."""
        delivery.write(
            {
                "distribution_tracking_ref": tracking,
                "distribution_tracking_url": url,
                "distribution_carrier": carrier,
            }
        )
        with trap_jobs() as trap:
            self.ship_by_hand(delivery)
            trap.assert_jobs_count(1, only=delivery.distribution_export_fulfillment)
            self.assertFalse(server.requests, "nothing sent inside validation")
            jobs = self.run_trapped_jobs(trap)
        self.assertEqual(jobs[0].result, f"done: stock.picking {delivery.id}")
        return jobs

    def assertSentOnce(self, job, delivery, server):
        """The fulfillment job runs again (a retry, a requeue): nothing more
        reaches ``server``, no second exchange is made."""
        calls = len(server.requests)
        self.assertEqual(job.perform(), "nothing to do: already sent")
        self.assertEqual(len(server.requests), calls)
        self.assertEqual(len(self.fulfillment_exchange(delivery)), 1)

    def quants(self, product, location=None):
        return self.Quant.search(
            [
                ("product_id", "=", product.id),
                ("location_id", "child_of", (location or self.stock_location).id),
            ]
        )

    def reserved(self, product, location=None):
        return sum(self.quants(product, location).mapped("reserved_quantity"))

    def on_hand(self, product, location=None):
        return sum(self.quants(product, location).mapped("quantity"))


@contextmanager
def own_transaction(registry):
    """A superuser environment on a connection of its own: a real transaction,
    independent of the test's, committed when the block ends without error.

    The transaction is handed the registry: ``api.Environment`` would look it
    up by database name under ``Registry._lock``, which the server holds
    while it runs the tests, so that a worker thread would wait forever.
    """
    with db_connect(registry.db_name).cursor() as cr:
        cr.transaction = Transaction(registry)
        yield api.Environment(cr, SUPERUSER_ID, {})


def purge_committed(registry, backend_ids, product_ids=()):
    """Delete, in a committed transaction, what the backends' imports made
    (orders, customers, bindings, exchanges, exceptions, jobs), the given
    products and the backends themselves."""
    with own_transaction(registry) as env:
        backends = (
            env["distribution.backend"]
            .with_context(active_test=False)
            .browse(backend_ids)
            .exists()
        )
        orders = env["sale.order"].search(
            [("distribution_backend_id", "in", backends.ids)]
        )
        bindings = env["distribution.binding"].search(
            [("backend_id", "in", backends.ids)]
        )
        partners = (
            orders.partner_id | orders.partner_invoice_id | orders.partner_shipping_id
        )
        partners |= (
            env["res.partner"]
            .browse(
                bindings.filtered(lambda b: b.res_model == "res.partner").mapped(
                    "res_id"
                )
            )
            .exists()
        )
        partners |= partners.with_context(active_test=False).child_ids
        exchanges = env["distribution.exchange"].search(
            [("backend_id", "in", backends.ids)]
        )
        jobs = (
            env["queue.job"]
            .search([("model_name", "=", "distribution.exchange")])
            .filtered(lambda job: job.records & exchanges)
        )
        orders.filtered(lambda o: o.state != "cancel")._action_cancel()
        orders.unlink()
        jobs.unlink()
        exchanges.exception_ids.unlink()
        exchanges.unlink()
        bindings.unlink()
        partners.unlink()
        env["product.product"].browse(product_ids).exists().unlink()
        backends.unlink()


class CommittedDataMixin:
    """A backend and a product committed for real, deleted after each test.

    For tests that need real transactions: the job runner's commit and
    rollback, workers racing each other. Read what they committed through
    ``own_transaction(self.registry)``: the test's own transaction started
    before and does not see it.
    """

    @classmethod
    def setUpCommittedData(cls):
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))

    def commit_backend(self, name, sku):
        """Commit a backend (leaving orders as quotations) and a product."""
        with own_transaction(self.registry) as env:
            backend = env["distribution.backend"].create(
                {
                    "name": name,
                    "webhook_secret": f"secret-of-{name}-0123456789",
                    "auto_confirm": False,
                }
            )
            product = env["product.product"].create(
                {"name": f"{name} mug", "default_code": sku, "type": "consu"}
            )
            ids = backend.id, product.id
            currency = backend.company_id.currency_id.name
        self.addCleanup(purge_committed, self.registry, [ids[0]], [ids[1]])
        return ids[0], currency
