import uuid

from odoo import fields, models

from ..adapters.woocommerce import (
    SIGNATURE_HEADER,
    TOPIC_HEADER,
    WooCommerceAdapter,
    sign,
)


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("woocommerce", "WooCommerce")],
        ondelete={"woocommerce": "set default"},
    )

    def _get_adapter_class(self):
        self.ensure_one()
        return (
            WooCommerceAdapter
            if self.adapter == "woocommerce"
            else super()._get_adapter_class()
        )

    # -- demo data ----------------------------------------------------------------

    def _demo_woocommerce_headers(self, delivery, body):
        """What WooCommerce sends with a webhook of API version 3."""
        resource, event = delivery["topic"].split(".", 1)
        webhook_id = str(delivery["webhook_id"])
        return {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.8.0 Hookshot (WordPress/6.8)",
            "X-WC-Webhook-Source": "https://shop.woocommerce.invalid/",
            TOPIC_HEADER: delivery["topic"],
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            SIGNATURE_HEADER: sign(self._webhook_secrets()[0], body),
            "X-WC-Webhook-ID": webhook_id,
            # new at every delivery, so it does not identify the event
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }

    def _demo_load_woocommerce(self):
        """The demo shop's webhooks: orders (one cancelled by an update, one
        with a variation no SKU names, one from an old WooCommerce without
        tax rates) and an order left for the dispatcher; then the levels its
        orders changed are recomputed, and the shop is paused so that
        nothing goes out to it."""
        self.ensure_one()
        data = self._demo_read_deliveries(
            "distribution_connector_woocommerce/demo/woocommerce_deliveries.json"
        )
        self._demo_send(data["webhooks"], self._demo_woocommerce_headers)
        self.action_pause()
        self.env["distribution.stock.level"].sweep()
