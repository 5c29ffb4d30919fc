"""What an integrator's addon extends with ``_inherit`` is honoured: the order
import's ``_prepare_order_vals`` and ``_prepare_line_vals`` of the backend,
and the exchange's ``_get_flow_class``.

Each test overrides the method on the model's registry class, as an
``_inherit`` of another addon does, calling the original as its
``super()`` would.
"""

from odoo.tests.common import TransactionCase

from ..flows.fulfillment_export import FulfillmentExport
from ..flows.order_import import OrderImport
from ..flows.shipment_import import ShipmentImport
from .common import OrderImportMixin


class TestExtensionHooks(OrderImportMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()

    def extend(self, model, name, override):
        """``override(original, record, *args)`` in place of ``model.name``
        for this test."""
        model_class = type(self.env[model])
        original = getattr(model_class, name)

        def extended(record, *args):
            return override(original, record, *args)

        self.patch(model_class, name, extended)

    def test_prepare_order_vals_extension_is_honored(self):
        seen = []

        def prepare_order_vals(original, backend, data, vals):
            vals = original(backend, data, vals)
            seen.append(data["external_id"])
            return {**vals, "client_order_ref": f"{backend.name} {data['name']}"}

        self.extend("distribution.backend", "_prepare_order_vals", prepare_order_vals)
        exchange = self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(seen, ["CH-1001"])
        self.assertEqual(order.client_order_ref, "Test channel #1001")
        self.assertEqual(order.distribution_external_id, "CH-1001")

    def test_prepare_line_vals_extension_is_honored(self):
        def prepare_line_vals(original, backend, line, vals):
            vals = original(backend, line, vals)
            return {**vals, "name": f"{line['sku']} from {backend.name}"}

        self.extend("distribution.backend", "_prepare_line_vals", prepare_line_vals)
        # a quotation, so that a newer version replaces its lines
        self.backend.auto_confirm = False
        self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(
            sorted(self.product_lines(order).mapped("name")),
            ["MUG-BLUE from Test channel", "MUG-RED from Test channel"],
        )
        shipping = order.order_line - self.product_lines(order)
        self.assertNotIn("from Test channel", " ".join(shipping.mapped("name")))

        newer = self.order_payload(updated_at="2025-03-02T10:00:00Z")
        newer["lines"] = newer["lines"][:1]
        self.assertEqual(self.import_order(newer).state, "done")
        self.assertEqual(
            self.product_lines(order).mapped("name"), ["MUG-BLUE from Test channel"]
        )

    def test_flow_class_extension_is_honored(self):
        class TaggedOrderImport(OrderImport):
            def run(self):
                order = super().run()
                order.note = "Imported by the extended flow"
                return order

        def get_flow_class(original, exchange):
            if exchange.kind == "order":
                return TaggedOrderImport
            return original(exchange)

        self.extend("distribution.exchange", "_get_flow_class", get_flow_class)
        exchange = self.import_order(self.order_payload())
        self.assertEqual(exchange.state, "done")
        self.assertIn("Imported by the extended flow", str(self.orders().note))

    def test_flow_class_by_kind_and_direction(self):
        def flow(direction, kind):
            exchange = self.env["distribution.exchange"].new(
                {"direction": direction, "kind": kind}
            )
            return exchange._get_flow_class()

        self.assertIs(flow("in", "order"), OrderImport)
        self.assertIs(flow("in", "shipment"), ShipmentImport)
        self.assertIs(flow("out", "shipment"), FulfillmentExport)
        self.assertIsNone(flow("out", "POST /fulfillments"))
        self.assertIsNone(flow("in", "no_such_kind"))
