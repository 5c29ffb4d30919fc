"""Settlement import: a channel's payout, matched to orders and invoices."""

import json

from odoo import fields

from odoo.addons.distribution_connector.errors import PermanentError

from . import InboundFlow
from .common import parse_datetime

SETTLEMENT_MODEL = "distribution.settlement"


class SettlementImport(InboundFlow):
    """Store the payout and its lines (a new version of a known payout
    replaces its lines), then match them; lines that do not match become
    exceptions (findings: the exchange itself is done)."""

    kind = "settlement"

    def run(self):
        data = self.data
        payout = data["external_id"]
        self.bindings._lock(self.backend, SETTLEMENT_MODEL, payout)
        currency = self._currency()
        settlements = self.env[SETTLEMENT_MODEL]
        settlement = settlements.search(
            [("backend_id", "=", self.backend.id), ("name", "=", payout)], limit=1
        )
        vals = {
            "exchange_id": self.exchange.id,
            "currency_id": currency.id,
            "payout_date": parse_datetime(data.get("payout_date")),
            "period_start": parse_datetime(data.get("period_start")),
            "period_end": parse_datetime(data.get("period_end")),
            "payout_amount": data.get("payout_amount") or 0.0,
            "line_ids": [
                (0, 0, self._line_vals(i, line)) for i, line in enumerate(data["lines"])
            ],
        }
        if settlement:
            # a new version: what the old lines raised is superseded
            settlement.exception_ids.filtered(lambda e: e.state == "open").write(
                {"state": "resolved", "resolved_at": fields.Datetime.now()}
            )
            settlement.line_ids.unlink()
            settlement.write(vals)
        else:
            settlement = settlements.create(
                {**vals, "name": payout, "backend_id": self.backend.id}
            )
        settlement._match()
        return settlement

    def _currency(self):
        code = self.data["currency"]
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        if not currency:
            raise PermanentError(
                f"Currency {code} of settlement {self.data['external_id']} is unknown.",
                kind="currency_mismatch",
                key=code,
                json_path="$.currency",
            )
        return currency

    @staticmethod
    def _line_vals(index, line):
        return {
            "sequence": index,
            "external_id": line.get("external_id"),
            "type": line["type"],
            "external_order_id": line.get("external_order_id"),
            "amount": line["amount"],
            "fee_amount": line.get("fee_amount") or 0.0,
            "date": parse_datetime(line.get("date")),
            "description": line.get("description"),
            "raw": json.dumps(line, indent=2, sort_keys=True),
        }
