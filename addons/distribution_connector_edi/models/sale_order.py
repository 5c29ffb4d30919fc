from odoo import models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def action_confirm(self):
        result = super().action_confirm()
        for order in self:
            backend = order.distribution_backend_id
            if backend.adapter == "edi" and order.state == "sale":
                # the 855 / ORDRSP, built and uploaded by its job
                backend.sudo()._edi_send("order_response", order)
        return result
