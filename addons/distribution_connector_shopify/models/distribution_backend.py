import re
import uuid

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..adapters.shopify import (
    DEFAULT_API_VERSION,
    EVENT_ID_HEADER,
    HMAC_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    WEBHOOK_ID_HEADER,
    ShopifyAdapter,
    sign,
)

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
        default=DEFAULT_API_VERSION,
        tracking=True,
        help="Admin API version of the outbound calls, e.g. 2026-10. Use the "
        "version the app's webhooks are subscribed with, so that webhook "
        "payloads and API answers have the same shape. Shopify supports a "
        "version for 12 months, then answers as the oldest one it supports; "
        "from 2026-01 stock is compared with changeFromQuantity, which "
        "2026-04 and later require.",
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

    def _get_adapter_class(self):
        """Shopify backends speak through ``ShopifyAdapter``."""
        if self.adapter == "shopify":
            return ShopifyAdapter
        return super()._get_adapter_class()

    @api.constrains("adapter", "shopify_api_version", "shopify_location_id")
    def _check_shopify_settings(self):
        for backend in self.filtered(lambda b: b.adapter == "shopify"):
            if not API_VERSION_RE.match(backend.shopify_api_version or ""):
                raise ValidationError(
                    self.env._(
                        "The Shopify API version looks like 2026-10 (got %(value)s).",
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

    # -- demo data ----------------------------------------------------------------

    def _demo_shopify_headers(self, delivery, body):
        """What Shopify sends with a webhook (its "delivery structure")."""
        return {
            "Content-Type": "application/json",
            TOPIC_HEADER: delivery["topic"],
            HMAC_HEADER: sign(self._webhook_secrets()[0], body),
            SHOP_HEADER: "demo-pottery.myshopify.com",
            "X-Shopify-API-Version": self.shopify_api_version,
            EVENT_ID_HEADER: delivery["event_id"],
            # a new id for every delivery, retries included
            WEBHOOK_ID_HEADER: str(uuid.uuid4()),
            TRIGGERED_AT_HEADER: delivery["triggered_at"],
        }

    def _demo_load_shopify(self):
        """The demo store's webhooks: orders (one delivered twice, one
        cancelled, one changed after confirmation, one with an unknown SKU),
        a refund of an order not shipped yet, and an order left for the
        dispatcher; then the levels its orders changed are recomputed, and
        the store is paused so that nothing goes out to it."""
        self._demo_load_channel(
            "distribution_connector_shopify/demo/shopify_deliveries.json",
            self._demo_shopify_headers,
        )
        self.env["distribution.stock.level"].sweep()
