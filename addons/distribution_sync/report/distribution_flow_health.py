from odoo import fields, models, tools
from odoo.tools import SQL

#: days of history behind the dashboard's rates, latencies and duplicates
HEALTH_WINDOW_DAYS = 7


class DistributionFlowHealth(models.Model):
    """One row per backend, direction and flow over the last
    ``HEALTH_WINDOW_DAYS`` days: volume, failure rate, latency percentiles
    (received to done) and duplicates collapsed."""

    _name = "distribution.flow.health"
    _description = "Flow health"
    _auto = False
    _order = "backend_id, direction, kind"

    backend_id = fields.Many2one("distribution.backend", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], readonly=True
    )
    kind = fields.Char(string="Flow", readonly=True)
    exchange_count = fields.Integer(string="Exchanges", readonly=True)
    done_count = fields.Integer(string="Done", readonly=True)
    error_count = fields.Integer(string="Errors", readonly=True)
    pending_count = fields.Integer(string="Pending", readonly=True)
    failure_rate = fields.Float(
        string="Failure rate (%)",
        aggregator="avg",
        readonly=True,
        help="Exchanges in error among those processed (done or error).",
    )
    latency_p50 = fields.Float(
        string="Latency p50 (s)", aggregator="max", readonly=True
    )
    latency_p95 = fields.Float(
        string="Latency p95 (s)", aggregator="max", readonly=True
    )
    duplicate_count = fields.Integer(string="Duplicates", readonly=True)
    last_success_at = fields.Datetime(
        string="Last success", aggregator="max", readonly=True
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
            CREATE OR REPLACE VIEW %s AS (
                SELECT
                    row_number() OVER (
                        ORDER BY e.backend_id, e.direction, COALESCE(e.kind, e.topic)
                    ) AS id,
                    e.backend_id,
                    MIN(e.company_id) AS company_id,
                    e.direction,
                    COALESCE(e.kind, e.topic) AS kind,
                    COUNT(*) AS exchange_count,
                    COUNT(*) FILTER (WHERE e.state = 'done') AS done_count,
                    COUNT(*) FILTER (WHERE e.state = 'error') AS error_count,
                    COUNT(*) FILTER (
                        WHERE e.state IN ('received', 'processing')) AS pending_count,
                    ROUND(100.0 * COUNT(*) FILTER (WHERE e.state = 'error')
                        / NULLIF(COUNT(*) FILTER (
                            WHERE e.state IN ('done', 'error')), 0), 2)
                        AS failure_rate,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY GREATEST(
                        EXTRACT(EPOCH FROM e.processed_at - e.received_at), 0))
                        FILTER (WHERE e.state = 'done') AS latency_p50,
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY GREATEST(
                        EXTRACT(EPOCH FROM e.processed_at - e.received_at), 0))
                        FILTER (WHERE e.state = 'done') AS latency_p95,
                    SUM(COALESCE(e.duplicate_count, 0)) AS duplicate_count,
                    MAX(e.processed_at) FILTER (WHERE e.state = 'done')
                        AS last_success_at
                FROM distribution_exchange e
                WHERE e.received_at >= (now() AT TIME ZONE 'UTC')
                      - make_interval(days => %s)
                GROUP BY e.backend_id, e.direction, COALESCE(e.kind, e.topic)
            )
                       """,
                SQL.identifier(self._table),
                HEALTH_WINDOW_DAYS,
            )
        )
