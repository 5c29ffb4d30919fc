from odoo import fields, models

from odoo.addons.distribution_connector.adapters.base import DistributionAdapter


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    auto_confirm = fields.Boolean(
        default=True,
        tracking=True,
        help="Confirm imported orders at once (reserving stock) instead of "
        "leaving them as quotations.",
    )
    pricelist_id = fields.Many2one(
        "product.pricelist",
        check_company=True,
        tracking=True,
        help="Pricelist of imported orders; its currency must be the order's.",
    )
    shipping_product_id = fields.Many2one(
        "product.product",
        check_company=True,
        default=lambda self: self.env.ref(
            "distribution_sync.product_channel_shipping", raise_if_not_found=False
        ),
        help="Service product used for the channel's shipping lines.",
    )
    salesperson_id = fields.Many2one("res.users")
    sales_team_id = fields.Many2one("crm.team", string="Sales team", check_company=True)
    send_fulfillments = fields.Boolean(
        default=True,
        tracking=True,
        help="Tell the channel when a delivery of its orders ships (quantities, "
        "carrier, tracking), when its adapter can.",
    )
    exception_count = fields.Integer(compute="_compute_exception_count")

    def _sends_fulfillments(self):
        """True when fulfillments go out to this backend: wanted, and its
        adapter implements ``export_fulfillment``."""
        self.ensure_one()
        adapter_class = type(self._get_adapter())
        return self.send_fulfillments and (
            adapter_class.export_fulfillment
            is not DistributionAdapter.export_fulfillment
        )

    def _compute_exception_count(self):
        counts = dict(
            self.env["distribution.exception"]._read_group(
                [("backend_id", "in", self.ids), ("state", "=", "open")],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.exception_count = counts.get(backend, 0)

    def action_view_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync.action_distribution_exception"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action
