import base64
import hashlib
import json

from odoo import fields, models
from odoo.exceptions import UserError

from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    check_group,
)


class DistributionSettlementImport(models.TransientModel):
    """Upload a canonical settlement file: it goes through the inbox like the
    ``settlement`` webhook topic, so that the same file uploaded twice is
    stored once, and nothing in it is lost when it cannot be applied."""

    _name = "distribution.settlement.import"
    _description = "Import a settlement file"

    backend_id = fields.Many2one(
        "distribution.backend",
        required=True,
        default=lambda self: self.env.context.get("default_backend_id"),
    )
    file = fields.Binary(string="Settlement file (JSON)", required=True)
    filename = fields.Char()

    def action_import(self):
        self.ensure_one()
        # stored with superuser rights: into a backend of the caller's companies
        check_group(self.backend_id, MANAGER_GROUP)
        body = base64.b64decode(self.file or b"")
        if not body:
            raise UserError(self.env._("The file is empty."))
        backend = self.backend_id.sudo()
        exchanges = self.env["distribution.exchange"].sudo()
        event_id = "upload:sha256:" + hashlib.sha256(body).hexdigest()
        try:
            payload = json.loads(body)
        except ValueError as err:
            exchange, created = exchanges._insert_inbound(
                backend, "settlement", "settlement", event_id, None, body,
                "application/json", {"x-distribution-source": "upload"},
            )  # fmt: skip
            if created:
                exchange._record_failure_unreadable(err)
            return _open(exchange)
        external_ref = (
            str(payload.get("external_id"))
            if isinstance(payload, dict) and payload.get("external_id")
            else None
        )
        exchange, _created = exchanges._insert_inbound(
            backend, "settlement", "settlement", event_id, external_ref, body,
            "application/json", {"x-distribution-source": "upload"},
        )  # fmt: skip
        # processed like a webhook's: the insert woke the backend's dispatcher
        return _open(exchange)


def _open(exchange):
    return {
        "type": "ir.actions.act_window",
        "res_model": "distribution.exchange",
        "res_id": exchange.id,
        "view_mode": "form",
    }
