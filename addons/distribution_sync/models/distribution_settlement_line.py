from collections import defaultdict

from odoo import fields, models


class DistributionSettlementLine(models.Model):
    _name = "distribution.settlement.line"
    _description = "Distribution Settlement Line"
    _order = "settlement_id, sequence, id"

    settlement_id = fields.Many2one(
        "distribution.settlement", required=True, ondelete="cascade", index=True
    )
    backend_id = fields.Many2one(related="settlement_id.backend_id")
    company_id = fields.Many2one(related="settlement_id.company_id", store=True)
    currency_id = fields.Many2one(related="settlement_id.currency_id")
    sequence = fields.Integer(
        readonly=True, help="Position of the line in the settlement (from 0)."
    )
    external_id = fields.Char(readonly=True)
    type = fields.Selection(
        [
            ("order", "Order"),
            ("refund", "Refund"),
            ("fee", "Fee"),
            ("adjustment", "Adjustment"),
        ],
        required=True,
        readonly=True,
    )
    external_order_id = fields.Char(readonly=True, index="btree_not_null")
    amount = fields.Monetary(readonly=True)
    fee_amount = fields.Monetary(readonly=True)
    date = fields.Datetime(readonly=True)
    description = fields.Char(readonly=True)
    raw = fields.Text(readonly=True, help="The line exactly as received (JSON).")
    order_id = fields.Many2one("sale.order", readonly=True, index="btree_not_null")
    invoice_ids = fields.Many2many("account.move", readonly=True)
    invoiced_amount = fields.Monetary(
        readonly=True,
        help="Total of the order's posted invoices (order lines) or credit "
        "notes (refund lines), compared with the settled amounts.",
    )
    match_state = fields.Selection(
        [
            ("matched", "Matched"),
            ("fee", "Fee (nothing to match)"),
            ("unmatched", "No such order"),
            ("no_invoice", "No posted invoice"),
            ("mismatch", "Amount mismatch"),
        ],
        readonly=True,
        index=True,
    )
    match_message = fields.Char(readonly=True)

    def _match_lines(self):
        """Set each line's order, invoices and match state.

        Lines of the same order and type are compared together with the
        order's posted invoices (order lines) or credit notes (refunds),
        within the backend's tolerance.
        """
        bindings = self.env["distribution.binding"].sudo()
        groups = defaultdict(lambda: self.browse())
        for line in self:
            backend = line.settlement_id.backend_id
            order = self.env["sale.order"]
            if line.external_order_id:
                binding = bindings._find(backend, "sale.order", line.external_order_id)
                order = binding._record() if binding else order
            vals = {"order_id": order.id, "invoice_ids": [(5, 0, 0)]}
            if line.external_order_id and not order:
                vals.update(
                    match_state="unmatched",
                    invoiced_amount=0.0,
                    match_message=self.env._(
                        "No order %(order)s was imported from %(backend)s.",
                        order=line.external_order_id,
                        backend=backend.name,
                    ),
                )
            elif line.type in ("fee", "adjustment"):
                vals.update(match_state="fee", invoiced_amount=0.0, match_message=False)
            else:
                groups[(line.settlement_id.id, order.id, line.type)] |= line
            line.write(vals)
        for (_settlement_id, _order_id, line_type), lines in groups.items():
            lines._match_invoices(line_type)

    def _match_invoices(self, line_type):
        order = self.order_id
        settlement = self.settlement_id
        move_type = "out_invoice" if line_type == "order" else "out_refund"
        moves = order.invoice_ids
        if line_type == "refund":
            # credit notes made by reversing the order's invoices
            moves |= self.env["account.move"].search(
                [("reversed_entry_id", "in", order.invoice_ids.ids)]
            )
        invoices = moves.filtered(
            lambda move: move.state == "posted" and move.move_type == move_type
        )
        invoiced = sum(invoices.mapped("amount_total"))
        settled = abs(sum(self.mapped("amount")))
        vals = {"invoice_ids": [(6, 0, invoices.ids)], "invoiced_amount": invoiced}
        what = (
            self.env._("invoice") if line_type == "order" else self.env._("credit note")
        )
        if not invoices:
            vals.update(
                match_state="no_invoice",
                match_message=self.env._(
                    "Order %(order)s has no posted %(what)s.",
                    order=order.name,
                    what=what,
                ),
            )
        elif invoices.currency_id != settlement.currency_id:
            vals.update(
                match_state="mismatch",
                match_message=self.env._(
                    "The %(what)s of order %(order)s is in %(currency)s, the "
                    "settlement in %(settled)s.",
                    what=what,
                    order=order.name,
                    currency=", ".join(invoices.currency_id.mapped("name")),
                    settled=settlement.currency_id.name,
                ),
            )
        elif settlement._differs(settled, invoiced):
            vals.update(
                match_state="mismatch",
                match_message=self.env._(
                    "Settled %(settled)s for order %(order)s, but its posted "
                    "%(what)s total %(invoiced)s.",
                    settled=settled,
                    order=order.name,
                    what=what,
                    invoiced=invoiced,
                ),
            )
        else:
            vals.update(match_state="matched", match_message=False)
        self.write(vals)

    def _problem(self):
        """(exception type, message) of a line that does not match, else None."""
        self.ensure_one()
        if self.match_state in ("matched", "fee"):
            return None
        exc_type = (
            "settlement_mismatch"
            if self.match_state == "mismatch"
            else "settlement_unmatched"
        )
        prefix = self.env._(
            "Settlement %(payout)s, line %(index)s (%(type)s, %(amount)s): ",
            payout=self.settlement_id.name,
            index=self.sequence,
            type=self.type,
            amount=self.amount,
        )
        return exc_type, prefix + (self.match_message or "")
