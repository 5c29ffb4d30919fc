import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

MARKETPLACE_RE = re.compile(r"^[A-Z0-9]{10,14}$")
#: fulfillment channel of a marketplace -> what Amazon calls it
#: (``FulfillmentChannel`` of an order)
CHANNELS = {"mfn": ("MFN",), "afn": ("AFN",), "both": ("MFN", "AFN")}


class DistributionAmazonMarketplace(models.Model):
    """One marketplace of an Amazon backend and who ships its orders: the
    seller (MFN), Amazon (FBA), or both."""

    _name = "distribution.amazon.marketplace"
    _description = "Amazon marketplace of a backend"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    marketplace_id = fields.Char(
        string="Marketplace id",
        required=True,
        help="Amazon's id of the marketplace, e.g. A1PA6795UKMFR9 (Germany), "
        "ATVPDKIKX0DER (United States).",
    )
    fulfillment_channel = fields.Selection(
        [("mfn", "Merchant (MFN)"), ("afn", "Amazon (FBA)"), ("both", "Both")],
        string="Fulfilled by",
        required=True,
        default="mfn",
        help="Merchant: the seller ships; its orders are imported to ship "
        "from Odoo and its stock is published. Amazon (FBA): Amazon ships "
        "from its own stock; its orders are imported as delivered from the "
        "backend's FBA warehouse, its stock is read for reconciliation only.",
    )

    _backend_marketplace_unique = models.Constraint(
        "UNIQUE(backend_id, marketplace_id)",
        "A marketplace is listed once per backend.",
    )

    @api.constrains("marketplace_id")
    def _check_marketplace_id(self):
        for line in self:
            if not MARKETPLACE_RE.match(line.marketplace_id or ""):
                raise ValidationError(
                    self.env._(
                        "%(value)s does not look like an Amazon marketplace id.",
                        value=line.marketplace_id,
                    )
                )

    def _channels(self):
        """Amazon's ``FulfillmentChannel`` values of these marketplaces."""
        return {code for line in self for code in CHANNELS[line.fulfillment_channel]}
