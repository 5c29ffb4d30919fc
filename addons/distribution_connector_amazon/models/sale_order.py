from odoo import fields, models


class SaleOrder(models.Model):
    """What Amazon says of an order that Odoo's order has no field for."""

    _inherit = "sale.order"

    amazon_fulfillment_channel = fields.Selection(
        [("MFN", "Merchant (MFN)"), ("AFN", "Amazon (FBA)")],
        string="Amazon fulfillment",
        readonly=True,
        copy=False,
        help="Who ships the order: the seller from Odoo's stock (MFN), or "
        "Amazon from its own (FBA): such an order is delivered from the "
        "backend's FBA warehouse as soon as it is confirmed.",
    )
    amazon_is_prime = fields.Boolean(string="Amazon Prime", readonly=True, copy=False)
    amazon_is_business_order = fields.Boolean(
        string="Amazon Business", readonly=True, copy=False
    )
    amazon_latest_ship_date = fields.Datetime(
        string="Amazon ship by",
        readonly=True,
        copy=False,
        help="The last day Amazon allows to ship the order (LatestShipDate).",
    )
    amazon_marketplace_id = fields.Char(
        string="Amazon marketplace", readonly=True, copy=False
    )

    def action_confirm(self):
        result = super().action_confirm()
        self.filtered(
            lambda order: order.amazon_fulfillment_channel == "AFN"
        )._amazon_delivered_by_amazon()
        return result

    def _amazon_delivered_by_amazon(self):
        """Amazon shipped these orders from its own stock: their deliveries
        from the FBA warehouse are done in full at once, nothing is left to
        ship from Odoo (and nothing is confirmed back to Amazon)."""
        pickings = self.picking_ids.filtered(
            lambda picking: (
                picking.state not in ("done", "cancel")
                and picking.picking_type_code == "outgoing"
            )
        )
        for move in pickings.move_ids.filtered(lambda m: m.state != "cancel"):
            move.quantity = move.product_uom_qty
            move.picked = True
        if pickings:
            pickings.with_context(
                skip_backorder=True, skip_sms=True, skip_expired=True
            )._action_done()
