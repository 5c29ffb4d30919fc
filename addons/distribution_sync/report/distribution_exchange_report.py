from odoo import fields, models, tools
from odoo.tools import SQL

from odoo.addons.distribution_connector.models.distribution_exchange import STATES


class DistributionExchangeReport(models.Model):
    """One row per exchange (the HTTP client's call records left out), for
    the graph and pivot views: exchanges by backend, flow and day with their
    latency, failures and the duplicates they collapsed."""

    _name = "distribution.exchange.report"
    _description = "Exchange analysis"
    _auto = False
    _order = "received_at desc"
    _rec_name = "exchange_id"

    exchange_id = fields.Many2one("distribution.exchange", readonly=True)
    backend_id = fields.Many2one("distribution.backend", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], readonly=True
    )
    topic = fields.Char(readonly=True)
    kind = fields.Char(string="Flow", readonly=True)
    state = fields.Selection(STATES, readonly=True)
    received_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    latency_seconds = fields.Float(
        string="Latency (s)",
        aggregator="avg",
        readonly=True,
        help="From received to done, for done exchanges.",
    )
    failure_rate = fields.Float(
        string="Failure rate (%)",
        aggregator="avg",
        readonly=True,
        help="100 for an exchange in error, 0 for a done one: averaged over a "
        "group, the share of processed exchanges that failed.",
    )
    attempts = fields.Integer(aggregator="sum", readonly=True)
    duplicate_count = fields.Integer(
        string="Duplicates", aggregator="sum", readonly=True
    )
    error_count = fields.Integer(string="Errors", aggregator="sum", readonly=True)
    pending_count = fields.Integer(string="Pending", aggregator="sum", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
            CREATE OR REPLACE VIEW %s AS (
                SELECT
                    e.id AS id,
                    e.id AS exchange_id,
                    e.backend_id,
                    e.company_id,
                    e.direction,
                    e.topic,
                    COALESCE(e.kind, e.topic) AS kind,
                    e.state,
                    e.received_at,
                    e.processed_at,
                    CASE WHEN e.state = 'done' AND e.processed_at IS NOT NULL
                        THEN GREATEST(
                            EXTRACT(EPOCH FROM e.processed_at - e.received_at), 0)
                    END AS latency_seconds,
                    CASE e.state WHEN 'error' THEN 100.0 WHEN 'done' THEN 0.0
                    END AS failure_rate,
                    COALESCE(e.attempts, 0) AS attempts,
                    COALESCE(e.duplicate_count, 0) AS duplicate_count,
                    (e.state = 'error')::int AS error_count,
                    (e.state IN ('received', 'processing'))::int AS pending_count
                FROM distribution_exchange e
            )
            """,
                SQL.identifier(self._table),
            )
        )
