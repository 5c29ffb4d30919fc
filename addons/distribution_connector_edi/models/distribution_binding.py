from odoo import api, fields, models


class DistributionBinding(models.Model):
    _inherit = "distribution.binding"

    record_ref = fields.Reference(
        selection_add=[("distribution.exchange", "Interchange received")]
    )

    @api.model
    def _bindable_models(self):
        """An interchange's control number is bound to the exchange that
        applied it: the same interchange sent again is applied once."""
        return [*super()._bindable_models(), "distribution.exchange"]
