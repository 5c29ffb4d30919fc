from odoo import fields, models


class DistributionBacklogLine(models.Model):
    """What a channel order waiting in the inbox takes, per product.

    A channel sold these units: its order is stored as an inbound exchange
    and not applied yet (no sales order reserves them). The lines are read
    from the exchange once, when its processing is enqueued (or by the sweep,
    for one not enqueued yet), so that the stock engine deducts them with one
    grouped query; they are deleted when the exchange is done or ignored.
    An order whose lines name no known product keeps one line without
    product, so that it is read once.
    """

    _name = "distribution.backlog.line"
    _description = "Channel order line waiting in the inbox"
    _order = "exchange_id, id"
    _log_access = False

    exchange_id = fields.Many2one(
        "distribution.exchange", required=True, ondelete="cascade", readonly=True
    )
    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, help="The backend's company."
    )
    order_ref = fields.Char(
        string="Channel order id",
        readonly=True,
        help="Once an order with this id exists in Odoo, its quotation or "
        "delivery counts it instead.",
    )
    product_id = fields.Many2one("product.product", ondelete="cascade", readonly=True)
    quantity = fields.Float(readonly=True, help="In the product's unit.")

    _exchange_product_unique = models.UniqueIndex(
        "(exchange_id, COALESCE(product_id, 0))"
    )
