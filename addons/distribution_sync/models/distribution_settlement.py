from odoo import api, fields, models
from odoo.tools import float_compare

SETTLEMENT_EXCEPTION_TYPES = ("settlement_unmatched", "settlement_mismatch")


class DistributionSettlement(models.Model):
    """A payout of a channel: what it paid per order, refunded and charged.

    Imported from a canonical settlement (webhook topic ``settlement`` or an
    uploaded file, both through the inbox); its lines are matched to the
    channel's sales orders and their posted invoices and credit notes.
    """

    _name = "distribution.settlement"
    _description = "Distribution Settlement"
    _order = "payout_date desc, id desc"

    name = fields.Char(string="Payout", required=True, readonly=True)
    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="restrict", readonly=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    exchange_id = fields.Many2one(
        "distribution.exchange",
        readonly=True,
        ondelete="set null",
        help="The exchange that brought the last version of this settlement.",
    )
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    payout_date = fields.Datetime(readonly=True)
    period_start = fields.Datetime(readonly=True)
    period_end = fields.Datetime(readonly=True)
    payout_amount = fields.Monetary(
        readonly=True, help="What the channel says it paid out."
    )
    line_total = fields.Monetary(
        compute="_compute_totals", store=True, help="Sum of the line amounts."
    )
    fee_total = fields.Monetary(
        compute="_compute_totals", store=True, help="Fees withheld on the lines."
    )
    line_ids = fields.One2many(
        "distribution.settlement.line", "settlement_id", readonly=True
    )
    state = fields.Selection(
        [("matched", "Matched"), ("exceptions", "With exceptions")],
        compute="_compute_state",
        store=True,
    )
    unmatched_count = fields.Integer(compute="_compute_state", store=True)
    exception_ids = fields.One2many("distribution.exception", "settlement_id")

    _backend_payout_unique = models.Constraint(
        "UNIQUE(backend_id, name)", "This payout was already imported."
    )

    @api.depends("line_ids.amount", "line_ids.fee_amount")
    def _compute_totals(self):
        for settlement in self:
            settlement.line_total = sum(settlement.line_ids.mapped("amount"))
            settlement.fee_total = sum(settlement.line_ids.mapped("fee_amount"))

    @api.depends("line_ids.match_state", "exception_ids.state")
    def _compute_state(self):
        for settlement in self:
            open_lines = settlement.line_ids.filtered(
                lambda line: line.match_state not in ("matched", "fee")
            )
            settlement.unmatched_count = len(open_lines)
            has_open = open_lines or settlement.exception_ids.filtered(
                lambda exc: exc.state == "open"
            )
            settlement.state = "exceptions" if has_open else "matched"

    def _tolerance(self):
        self.ensure_one()
        return self.backend_id.settlement_tolerance

    # -- matching ------------------------------------------------------------------

    def _match(self):
        """Match every line; raise or update an exception per line that does
        not match, resolve those that match now. Any user who may read the
        settlement may match it again: the matching itself needs no rights."""
        self.check_access("read")
        for settlement in self.sudo():
            settlement.line_ids._match_lines()
            settlement._sync_exceptions()
        return True

    def _differs(self, first, second):
        return (
            float_compare(
                abs(first - second),
                self._tolerance(),
                precision_rounding=self.currency_id.rounding,
            )
            > 0
        )

    def _sync_exceptions(self):
        self.ensure_one()
        exceptions = self.env["distribution.exception"].sudo()
        for line in self.line_ids:
            problem = line._problem()
            existing = exceptions.search(
                [("settlement_line_id", "=", line.id), ("state", "=", "open")],
                limit=1,
            )
            if problem is None:
                existing.write(
                    {"state": "resolved", "resolved_at": fields.Datetime.now()}
                )
                continue
            exc_type, message = problem
            vals = {
                "type": exc_type,
                "message": message,
                "key": line.external_order_id or line.external_id or self.name,
                "json_path": f"$.lines[{line.sequence}]",
            }
            if existing:
                existing.write(vals)
            elif self.exchange_id:
                exceptions.create(
                    {
                        **vals,
                        "exchange_id": self.exchange_id.id,
                        "settlement_id": self.id,
                        "settlement_line_id": line.id,
                    }
                )
        self._sync_payout_exception()

    def _sync_payout_exception(self):
        """The payout must be the lines minus their fees."""
        exceptions = self.env["distribution.exception"].sudo()
        existing = exceptions.search(
            [
                ("settlement_id", "=", self.id),
                ("settlement_line_id", "=", False),
                ("state", "=", "open"),
            ],
            limit=1,
        )
        expected = self.line_total - self.fee_total
        if not self.payout_amount or not self._differs(expected, self.payout_amount):
            existing.write({"state": "resolved", "resolved_at": fields.Datetime.now()})
            return
        vals = {
            "type": "settlement_mismatch",
            "message": self.env._(
                "Payout %(payout)s is %(amount)s but its lines add up to %(expected)s "
                "(amounts %(lines)s minus fees %(fees)s).",
                payout=self.name,
                amount=self.payout_amount,
                expected=round(expected, 6),
                lines=self.line_total,
                fees=self.fee_total,
            ),
            "key": self.name,
            "json_path": "$.payout_amount",
        }
        if existing:
            existing.write(vals)
        elif self.exchange_id:
            exceptions.create(
                {**vals, "exchange_id": self.exchange_id.id, "settlement_id": self.id}
            )

    def action_rematch(self):
        """Match again (an order was imported, an invoice posted since)."""
        return self._match()

    def action_view_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync.action_distribution_exception"
        )
        action["domain"] = [("settlement_id", "=", self.id)]
        return action
