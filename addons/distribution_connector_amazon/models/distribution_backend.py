from odoo import api, fields, models

from ..adapters.amazon import AmazonAdapter
from ..adapters.amazon_api import LWA_TOKEN_URL, REGION_ENDPOINTS, cached_tokens
from .distribution_amazon_marketplace import CHANNELS


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("amazon", "Amazon")],
        ondelete={"amazon": "set default"},
    )
    amazon_region = fields.Selection(
        [("na", "North America"), ("eu", "Europe"), ("fe", "Far East")],
        string="Amazon region",
        default="eu",
        tracking=True,
        help="The Selling Partner API region of the seller's marketplaces; "
        "choosing it fills the API base URL with the region's endpoint.",
    )
    amazon_marketplace_line_ids = fields.One2many(
        "distribution.amazon.marketplace",
        "backend_id",
        string="Amazon marketplaces",
        help="The marketplaces whose orders are pulled, each with who ships "
        "its orders (the seller, Amazon, or both).",
    )
    amazon_seller_id = fields.Char(
        string="Amazon seller id",
        tracking=True,
        help="The merchant token of the seller (Seller Central, Account Info).",
    )
    amazon_feed_threshold = fields.Integer(
        string="Amazon feed from (items)",
        default=10,
        tracking=True,
        help="A stock batch of at least this many SKUs goes out as one "
        "JSON_LISTINGS_FEED (processed by Amazon within minutes, read back "
        "per SKU); smaller batches by patchListingsItem, one call a SKU. "
        "0: never by feed.",
    )
    amazon_lwa_url = fields.Char(
        string="Login with Amazon token URL",
        default=LWA_TOKEN_URL,
        tracking=True,
        help="Where access tokens are obtained from the refresh token.",
    )
    amazon_refresh_token = fields.Char(
        string="Amazon refresh token",
        compute="_compute_secrets",
        inverse="_inverse_amazon_refresh_token",
        help="The refresh token the seller's authorisation of the app gave. "
        "Write-only: stored encrypted.",
    )
    amazon_refresh_token_enc = fields.Char(copy=False, groups="base.group_system")
    amazon_refresh_token_set = fields.Boolean(compute="_compute_secrets_set")

    def _get_adapter_class(self):
        """Amazon backends speak through ``AmazonAdapter``."""
        if self.adapter == "amazon":
            return AmazonAdapter
        return super()._get_adapter_class()

    def _secret_fields(self):
        return {
            **super()._secret_fields(),
            "amazon_refresh_token": "amazon_refresh_token_enc",
        }

    def _inverse_amazon_refresh_token(self):
        for backend in self:
            if backend.amazon_refresh_token:
                backend._set_secret(
                    "amazon_refresh_token", backend.amazon_refresh_token
                )

    def _amazon_refresh_token(self):
        """The decrypted refresh token, for the adapter. Never log it."""
        return self._get_secret("amazon_refresh_token") or None

    def _known_secrets(self):
        found = super()._known_secrets()
        if self.adapter == "amazon":
            found += [value for value in cached_tokens(self) if value]
        return found

    def _amazon_marketplace_ids(self, channel=None):
        """The backend's marketplace ids; with ``channel`` (``mfn`` or
        ``afn``), those whose orders that channel fulfills."""
        self.ensure_one()
        wanted = CHANNELS[channel][0] if channel else None
        return [
            line.marketplace_id
            for line in self.amazon_marketplace_line_ids
            if not wanted or wanted in CHANNELS[line.fulfillment_channel]
        ]

    def _amazon_fulfillment_channels(self, marketplace_id):
        """Amazon's ``FulfillmentChannel`` values imported from a marketplace."""
        self.ensure_one()
        return self.amazon_marketplace_line_ids.filtered(
            lambda line: line.marketplace_id == marketplace_id
        )._channels()

    @api.onchange("adapter", "amazon_region")
    def _onchange_amazon_region(self):
        if self.adapter == "amazon" and self.amazon_region:
            self.api_base_url = REGION_ENDPOINTS[self.amazon_region]
