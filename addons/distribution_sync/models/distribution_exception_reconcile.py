from odoo import fields, models

from .distribution_settlement import SETTLEMENT_EXCEPTION_TYPES


class DistributionException(models.Model):
    _inherit = "distribution.exception"

    settlement_id = fields.Many2one(
        "distribution.settlement",
        readonly=True,
        ondelete="cascade",
        index="btree_not_null",
    )
    settlement_line_id = fields.Many2one(
        "distribution.settlement.line",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
    )
    settlement_line_raw = fields.Text(
        related="settlement_line_id.raw", string="Settlement line"
    )

    def action_retry(self):
        """A settlement exception is retried by matching its settlement again
        (once the order is imported or its invoice posted)."""
        settlement_exceptions = self.filtered(
            lambda exc: exc.state == "open" and exc.type in SETTLEMENT_EXCEPTION_TYPES
        )
        settlements = settlement_exceptions.settlement_id
        settlements._match()
        for exc in settlement_exceptions:
            exc.message_post(body=self.env._("Settlement matched again."))
        return super(DistributionException, self - settlement_exceptions).action_retry()
