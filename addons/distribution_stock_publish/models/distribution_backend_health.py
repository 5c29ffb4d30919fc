from odoo import fields, models
from odoo.tools import SQL

#: quantities closer than this are equal
VARIANCE_EPSILON = 0.0001


class DistributionBackend(models.Model):
    """Stock variance on the backend's Health screen: levels whose
    channel-reported quantity is not the one we published."""

    _inherit = "distribution.backend"

    health_variance_count = fields.Integer(
        compute="_compute_health_variance",
        string="Levels with a variance",
        help="Stock levels whose quantity reported by the channel differs "
        "from the published one.",
    )
    health_variance_qty = fields.Float(
        compute="_compute_health_variance",
        string="Total variance (units)",
        help="Sum of the absolute differences, in each product's unit.",
    )
    health_variance_checked_count = fields.Integer(
        compute="_compute_health_variance",
        string="Levels read back",
        help="Stock levels whose quantity the channel reported.",
    )
    health_variance_checked_at = fields.Datetime(
        compute="_compute_health_variance",
        string="Channel stock last read",
    )

    def _variance_condition(self):
        return SQL(
            "channel_quantity_date IS NOT NULL AND "
            "ABS(COALESCE(channel_quantity, 0) - COALESCE(published_qty, 0)) > %s",
            VARIANCE_EPSILON,
        )

    def _compute_health_variance(self):
        self.env["distribution.stock.level"].flush_model(
            ["backend_id", "channel_quantity", "channel_quantity_date", "published_qty"]
        )
        rows = {}
        if self.ids:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT backend_id,
                           COUNT(*) FILTER (WHERE %(variance)s),
                           SUM(ABS(COALESCE(channel_quantity, 0)
                               - COALESCE(published_qty, 0))),
                           COUNT(*),
                           MAX(channel_quantity_date)
                    FROM distribution_stock_level
                    WHERE backend_id IN %(ids)s AND channel_quantity_date IS NOT NULL
                    GROUP BY backend_id
                    """,
                    variance=self._variance_condition(),
                    ids=tuple(self.ids),
                )
            )
            rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for backend in self:
            count, qty, checked, checked_at = rows.get(backend.id, (0, 0.0, 0, False))
            backend.health_variance_count = count
            backend.health_variance_qty = qty or 0.0
            backend.health_variance_checked_count = checked
            backend.health_variance_checked_at = checked_at

    def action_health_variance(self):
        """The stock levels of this backend with a variance."""
        self.ensure_one()
        self.env["distribution.stock.level"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM distribution_stock_level WHERE backend_id = %s AND %s",
                self.id,
                self._variance_condition(),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Stock variance of %(backend)s", backend=self.name),
            "res_model": "distribution.stock.level",
            "view_mode": "list,form",
            "views": [
                (
                    self.env.ref(
                        "distribution_stock_publish.distribution_stock_level_view_list_variance"
                    ).id,
                    "list",
                ),
                (False, "form"),
            ],
            "domain": [("id", "in", ids)],
            "context": {},
        }
