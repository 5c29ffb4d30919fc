from odoo import api, fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from ..flows.common import is_delivery
from ..flows.fulfillment_export import fulfillment_binding


class StockPicking(models.Model):
    _name = "stock.picking"
    _inherit = ["stock.picking", "distribution.exchange.source"]

    distribution_carrier = fields.Char(
        string="Carrier (warehouse)",
        copy=False,
        help="Carrier a warehouse or 3PL reported for this shipment.",
    )
    distribution_tracking_ref = fields.Char(
        string="Tracking number (warehouse)",
        copy=False,
        help="Tracking number a warehouse or 3PL reported; sent to the order's "
        "channel with the shipment.",
    )
    distribution_tracking_url = fields.Char(string="Tracking URL", copy=False)

    # -- outbound fulfillment ---------------------------------------------------

    def _action_done(self):
        result = super()._action_done()
        self._distribution_enqueue_fulfillments()
        return result

    def _distribution_fulfillment_backend(self):
        """The channel to tell that this delivery shipped, if any: the
        backend of its order, when it sends fulfillments and its adapter can."""
        self.ensure_one()
        if self.state != "done" or not is_delivery(self):
            return None
        backend = self.sale_id.distribution_backend_id
        if not backend or not backend._sends_fulfillments():
            return None
        return backend

    def _distribution_enqueue_fulfillments(self):
        for picking in self:
            backend = picking._distribution_fulfillment_backend()
            if not backend:
                continue
            picking.with_user(backend.job_user_id).with_company(
                backend.company_id
            ).with_delay(
                description=f"Send shipment {picking.name} to {backend.name}",
                identity_key=f"distribution.fulfillment:{picking.id}",
            ).distribution_export_fulfillment()

    @api.private
    def distribution_export_fulfillment(self):
        """Queue job entry point: tell the order's channel that this delivery
        shipped. Idempotent: a delivery sent already is not sent again."""
        self.ensure_one()
        backend = self._distribution_fulfillment_backend()
        if not backend:
            return "nothing to do: not a shipped delivery of a channel order"
        if fulfillment_binding(self.env, backend, self):
            return "nothing to do: already sent"
        exchange = (
            self.env["distribution.exchange"]
            .sudo()
            ._fulfillment_exchange(backend, self)
        )
        if exchange.state in ("done", "ignored"):
            return f"nothing to do: already sent (exchange {exchange.state})"
        if exchange.state == "error":
            return "nothing to do: waiting in the exception queue"
        if backend.paused:
            # a paused backend sends nothing; the job waits without using
            # up its retries
            raise RetryableJobError(
                f"{backend.name} is paused.", seconds=600, ignore_retry=True
            )
        return exchange.process()
