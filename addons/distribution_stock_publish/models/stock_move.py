from odoo import models

#: move fields whose change moves the demand or the forecast of a product
DEMAND_FIELDS = {"product_uom_qty", "product_id", "location_id", "location_dest_id"}


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_done(self, cancel_backorder=False):
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        self._distribution_demand_changed(self | moves)
        return moves

    def _action_confirm(self, merge=True, merge_into=False, create_proc=True):
        moves = super()._action_confirm(
            merge=merge, merge_into=merge_into, create_proc=create_proc
        )
        # merged moves are gone
        self._distribution_demand_changed((self | moves).exists())
        return moves

    def _action_cancel(self):
        res = super()._action_cancel()
        self._distribution_demand_changed(self)
        return res

    def write(self, vals):
        if DEMAND_FIELDS & vals.keys():
            self._distribution_demand_changed(self)  # what it was
        res = super().write(vals)
        if DEMAND_FIELDS & vals.keys():
            self._distribution_demand_changed(self)
        return res

    def _distribution_demand_changed(self, moves):
        """Moves entering or leaving the open demand (confirmed, cancelled,
        done, changed): the free basis deducts what they do not reserve, the
        forecast counts them; reservations themselves are tracked by the
        quants."""
        if moves:
            self.env["distribution.stock.level"]._mark_products_dirty(
                moves.product_id.ids
            )
