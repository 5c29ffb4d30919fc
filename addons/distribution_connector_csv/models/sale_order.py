from odoo import models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_confirm(self):
        result = super()._action_confirm()
        self._csv_send_order_files()
        return result

    def _csv_backends(self):
        """The CSV backends this order's warehouse ships for."""
        self.ensure_one()
        backends = (
            self.env["distribution.backend"]
            .sudo()
            .search(
                [
                    ("adapter", "=", "csv"),
                    ("csv_send_orders", "=", True),
                    ("company_id", "=", self.company_id.id),
                ]
            )
        )
        return backends.filtered(lambda b: self.warehouse_id in b.warehouse_ids)

    def _csv_send_order_files(self):
        """Enqueue the order file of each confirmed order for the 3PLs of its
        warehouse, on the outbound channel (one exchange each)."""
        exchanges = self.env["distribution.exchange"].sudo()
        for order in self:
            for backend in order._csv_backends():
                exchange = exchanges._csv_order_exchange(backend, order)
                if exchange.state == "received" and not exchange.dispatched_at:
                    exchange._enqueue_processing()
