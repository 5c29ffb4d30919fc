from odoo import fields, models

from odoo.addons.distribution_connector.adapters.base import hmac_digest

from ..adapters.rest import RestAdapter
from ..adapters.rest_api import encode_digest


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    # -- inbound ------------------------------------------------------------
    rest_signature_header = fields.Char(
        string="Signature header",
        default="X-Signature",
        help="Header carrying the HMAC-SHA256 of the raw body, made with the "
        "webhook secret.",
    )
    rest_signature_encoding = fields.Selection(
        [("hex", "Hexadecimal"), ("base64", "Base64")],
        string="Signature encoding",
        default="hex",
    )
    rest_signature_prefix = fields.Char(
        string="Signature prefix", default="sha256=", help="e.g. sha256="
    )
    rest_event_id_header = fields.Char(
        string="Event id header",
        default="X-Event-Id",
        help="Header identifying a delivery (stable across the sender's "
        "retries); without it, a digest of the body does.",
    )
    # -- outbound -------------------------------------------------------------
    rest_auth = fields.Selection(
        [
            ("bearer", "Bearer token (API secret)"),
            ("basic", "Basic (API key and API secret)"),
            ("hmac", "HMAC signature of the body (API secret)"),
            ("none", "None"),
        ],
        string="Authentication",
        default="bearer",
    )
    rest_auth_header = fields.Char(
        string="HMAC header",
        default="X-Signature",
        help="Header that carries our signature when authentication is HMAC.",
    )
    rest_stock_path = fields.Char(string="Stock endpoint", default="stock")
    rest_stock_change_path = fields.Char(
        string="Stock changes endpoint",
        help="When set, a quantity the partner confirmed before is published "
        'as a change to add to its own number ({"items": [{"sku", '
        '"change"}]}, answered with the number after the change), so that '
        "the units it sold meanwhile stay sold. Quantities never published "
        "go to the stock endpoint.",
    )
    rest_stock_batch_size = fields.Integer(
        string="Stock items per call",
        default=250,
        help="Most stock items one call to the stock endpoint carries; the "
        "publishing engine splits larger exports into jobs of this size.",
    )
    rest_fulfillment_path = fields.Char(
        string="Fulfillment endpoint", default="fulfillments"
    )
    rest_orders_path = fields.Char(string="Orders endpoint", default="orders")
    adapter = fields.Selection(
        selection_add=[("rest", "REST (canonical JSON)")],
        ondelete={"rest": "set default"},
    )

    def _get_adapter_class(self):
        if self.adapter != "rest":
            return super()._get_adapter_class()
        return RestAdapter

    # -- demo data ----------------------------------------------------------------

    def _demo_rest_headers(self, delivery, body):
        """What a partner configured like this backend sends."""
        digest = encode_digest(
            hmac_digest(self._webhook_secrets()[0], body),
            self.rest_signature_encoding,
        )
        return {
            "Content-Type": "application/json",
            self.rest_signature_header: f"{self.rest_signature_prefix or ''}{digest}",
            self.rest_event_id_header: delivery["event_id"],
        }

    def _demo_load_rest(self):
        """The demo 3PL's events: two shipments of the web shop's orders (one
        partial), one of an order nobody imported, and a stock count of its
        warehouse that finds a bowl missing; then the levels its shipments
        changed are recomputed, and the 3PL is paused so that nothing goes
        out to it."""
        self._demo_load_channel(
            "distribution_connector_rest/demo/rest_deliveries.json",
            self._demo_rest_headers,
        )
        self.env["distribution.stock.level"].sweep()
