from odoo import models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_done(self, cancel_backorder=False):
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        self.env["distribution.stock.level"]._mark_products_dirty(
            (self | moves).product_id.ids
        )
        return moves

    def _action_confirm(self, merge=True, merge_into=False, create_proc=True):
        moves = super()._action_confirm(
            merge=merge, merge_into=merge_into, create_proc=create_proc
        )
        self._distribution_forecast_changed(self | moves)
        return moves

    def _action_cancel(self):
        res = super()._action_cancel()
        self._distribution_forecast_changed(self)
        return res

    def _distribution_forecast_changed(self, moves):
        """Moves entering or leaving the forecast: only rules on the forecast
        basis care; quants (free, on hand) are tracked by the quants."""
        if moves and self.env["distribution.publish.rule"]._forecast_in_use():
            self.env["distribution.stock.level"]._mark_products_dirty(
                moves.exists().product_id.ids
            )
