from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        for move in posted.filtered(lambda m: m.move_type == "out_invoice"):
            orders = move.invoice_line_ids.sale_line_ids.order_id
            backend = orders.distribution_backend_id[:1]
            if backend.adapter == "edi":
                # the 810 / INVOIC, built and uploaded by its job
                backend.sudo()._edi_send("invoice", move)
        return posted
