import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..adapters.amazon import AmazonAdapter
from ..adapters.amazon_api import LWA_TOKEN_URL, REGION_ENDPOINTS, cached_tokens

MARKETPLACE_RE = re.compile(r"^[A-Z0-9]{10,14}$")


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
    amazon_marketplace_ids = fields.Char(
        string="Amazon marketplace ids",
        tracking=True,
        help="Comma-separated marketplace ids whose orders are pulled, e.g. "
        "A1PA6795UKMFR9 (Germany), ATVPDKIKX0DER (United States).",
    )
    amazon_seller_id = fields.Char(
        string="Amazon seller id",
        tracking=True,
        help="The merchant token of the seller (Seller Central, Account Info).",
    )
    amazon_fulfillment_channel = fields.Selection(
        [("mfn", "Merchant (MFN)"), ("afn", "Amazon (FBA)"), ("both", "Both")],
        string="Amazon fulfillment",
        default="mfn",
        tracking=True,
        help="Who ships the seller's orders. Only merchant-fulfilled orders "
        "are pulled so far: orders fulfilled by Amazon are skipped.",
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

    def _amazon_marketplace_ids(self):
        self.ensure_one()
        return [
            part.strip()
            for part in (self.amazon_marketplace_ids or "").split(",")
            if part.strip()
        ]

    @api.onchange("adapter", "amazon_region")
    def _onchange_amazon_region(self):
        if self.adapter == "amazon" and self.amazon_region:
            self.api_base_url = REGION_ENDPOINTS[self.amazon_region]

    @api.constrains("adapter", "amazon_marketplace_ids")
    def _check_amazon_settings(self):
        for backend in self.filtered(lambda b: b.adapter == "amazon"):
            for marketplace in backend._amazon_marketplace_ids():
                if not MARKETPLACE_RE.match(marketplace):
                    raise ValidationError(
                        self.env._(
                            "%(value)s does not look like an Amazon marketplace id.",
                            value=marketplace,
                        )
                    )
