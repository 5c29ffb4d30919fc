from odoo import fields, models


class DistributionExceptionIgnore(models.TransientModel):
    """Ignore exceptions with a reason, kept on each exception."""

    _name = "distribution.exception.ignore"
    _description = "Ignore distribution exceptions"

    exception_ids = fields.Many2many(
        "distribution.exception",
        default=lambda self: self.env.context.get("active_ids"),
    )
    reason = fields.Text(required=True)

    def action_ignore(self):
        self.exception_ids._ignore(self.reason)
        return {"type": "ir.actions.act_window_close"}
