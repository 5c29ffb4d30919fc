from odoo import fields, models


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
    salesperson_id = fields.Many2one("res.users", string="Salesperson")
    sales_team_id = fields.Many2one("crm.team", string="Sales team", check_company=True)
    exception_count = fields.Integer(compute="_compute_exception_count")

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
