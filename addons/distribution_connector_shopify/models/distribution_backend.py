import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

API_VERSION_RE = re.compile(r"^(\d{4}-\d{2}|unstable)$")
LOCATION_RE = re.compile(r"^(gid://shopify/Location/)?\d+$")


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("shopify", "Shopify")],
        ondelete={"shopify": "set default"},
    )
    shopify_api_version = fields.Char(
        string="Shopify API version",
        default="2025-01",
        tracking=True,
        help="Admin API version of the outbound calls, e.g. 2025-01. Use the "
        "version the app's webhooks are subscribed with, so that webhook "
        "payloads and API answers have the same shape.",
    )
    shopify_location_id = fields.Char(
        string="Shopify location",
        tracking=True,
        help="The Shopify location whose available stock we publish, as a "
        "global id (gid://shopify/Location/123) or a number.",
    )
    shopify_notify_customer = fields.Boolean(
        string="Shopify notifies the customer of shipments",
        tracking=True,
        help="When a fulfillment is sent to Shopify, let Shopify e-mail the "
        "customer the tracking information.",
    )

    @api.constrains("adapter", "shopify_api_version", "shopify_location_id")
    def _check_shopify_settings(self):
        for backend in self.filtered(lambda b: b.adapter == "shopify"):
            if not API_VERSION_RE.match(backend.shopify_api_version or ""):
                raise ValidationError(
                    self.env._(
                        "The Shopify API version looks like 2025-01 (got %(value)s).",
                        value=backend.shopify_api_version or "nothing",
                    )
                )
            location = backend.shopify_location_id
            if location and not LOCATION_RE.match(location.strip()):
                raise ValidationError(
                    self.env._(
                        "The Shopify location is a number or a global id such as "
                        "gid://shopify/Location/123 (got %(value)s).",
                        value=location,
                    )
                )
