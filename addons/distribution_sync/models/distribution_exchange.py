import json

from psycopg2.errors import UniqueViolation

from odoo import fields, models

from odoo.addons.distribution_connector.errors import PermanentError, TransientError

from ..flows import FLOWS
from ..models.distribution_exception import EXCEPTION_TYPES, FINDING_TYPES
from ..tools import schemas


class DistributionExchange(models.Model):
    _inherit = "distribution.exchange"

    exception_ids = fields.One2many("distribution.exception", "exchange_id")

    def _apply(self):
        flow_class = FLOWS.get(self.kind) if self.direction == "in" else None
        if not flow_class:
            return super()._apply()
        backend = self.backend_id
        try:
            payload = json.loads(self.raw_body or "")
        except ValueError as err:
            raise PermanentError(
                f"The body is not valid JSON: {err}", kind="invalid_payload"
            ) from err
        canonical = backend._get_adapter().to_canonical(self.kind, payload)
        schemas.validate(self.kind, canonical)
        exchange = self.sudo().with_company(backend.company_id)
        try:
            return flow_class(exchange, canonical).run()
        except UniqueViolation as err:
            # A concurrent import committed the same binding after this
            # transaction's snapshot: a new attempt will see and reuse it.
            raise TransientError(
                "A concurrent import created the same record "
                f"({err.diag.constraint_name}): retrying."
            ) from err

    def _record_failure(self, err):
        result = super()._record_failure(err)
        kinds = dict(EXCEPTION_TYPES)
        vals = {
            "type": err.kind if err.kind in kinds else "permanent",
            "message": self.backend_id._redact(err.message),
            "json_path": err.json_path,
            "key": err.key,
            "details": self.backend_id._redact(err.details) if err.details else False,
        }
        exceptions = self.env["distribution.exception"].sudo()
        existing = exceptions.search(
            [
                ("exchange_id", "=", self.id),
                ("state", "=", "open"),
                ("type", "not in", FINDING_TYPES),
            ],
            limit=1,
        )
        if existing:
            vals["occurrences"] = existing.occurrences + 1
            existing.write(vals)
        else:
            exceptions.create({**vals, "exchange_id": self.id})
        return result

    def _record_success(self, result):
        recorded = super()._record_success(result)
        self.exception_ids.filtered(
            lambda e: e.state == "open" and e.type not in FINDING_TYPES
        ).sudo().write({"state": "resolved", "resolved_at": fields.Datetime.now()})
        return recorded
