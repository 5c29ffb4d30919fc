from datetime import timedelta

from odoo import fields, models
from odoo.tools import SQL

from ..report.distribution_flow_health import HEALTH_WINDOW_DAYS

PENDING_STATES = ("received", "processing")
#: queue channels are a handful (see the [queue_job] channels setting)
MAX_QUEUE_CHANNELS = 200


class DistributionBackend(models.Model):
    """The health of a backend, for its dashboard card and Health screen.

    Figures are computed on read with one query each, over the last
    ``HEALTH_WINDOW_DAYS`` days for the rates, latencies and duplicates;
    the backlog, the open exceptions and the last successful sync are
    current."""

    _inherit = "distribution.backend"

    health_window_days = fields.Integer(
        compute="_compute_health", string="Window (days)"
    )
    health_last_success_at = fields.Datetime(
        compute="_compute_health",
        string="Last successful sync",
        help="When an exchange with this backend last ended done, in or out.",
    )
    health_last_inbound_at = fields.Datetime(
        compute="_compute_health",
        string="Last event received",
    )
    health_pending_count = fields.Integer(
        compute="_compute_health",
        string="Pending exchanges",
        help="Received or processing exchanges: the backlog of this backend.",
    )
    health_error_count = fields.Integer(
        compute="_compute_health",
        string="Exchanges in error",
        help="Exchanges of the window that ended in error and were not "
        "retried successfully since.",
    )
    health_exchange_count = fields.Integer(
        compute="_compute_health", string="Exchanges"
    )
    health_failure_rate = fields.Float(
        compute="_compute_health",
        string="Failure rate (%)",
        digits=(16, 1),
        help="Exchanges in error among those processed (done or error).",
    )
    health_latency_p50 = fields.Float(
        compute="_compute_health",
        string="Inbound latency p50 (s)",
        digits=(16, 1),
        help="Median time from receipt to done of inbound exchanges.",
    )
    health_latency_p95 = fields.Float(
        compute="_compute_health",
        string="Inbound latency p95 (s)",
        digits=(16, 1),
    )
    health_duplicate_count = fields.Integer(
        compute="_compute_health",
        string="Duplicates collapsed",
        help="Repeated deliveries of events already received.",
    )
    health_exception_1h = fields.Integer(
        compute="_compute_health_exceptions", string="Exceptions < 1 hour"
    )
    health_exception_1d = fields.Integer(
        compute="_compute_health_exceptions", string="Exceptions 1 hour - 1 day"
    )
    health_exception_7d = fields.Integer(
        compute="_compute_health_exceptions", string="Exceptions 1 - 7 days"
    )
    health_exception_older = fields.Integer(
        compute="_compute_health_exceptions", string="Exceptions > 7 days"
    )
    health_flow_ids = fields.One2many(
        "distribution.flow.health", "backend_id", string="Flows"
    )
    health_exception_age_ids = fields.One2many(
        "distribution.exception.age", "backend_id", string="Open exceptions by type"
    )
    health_queue_backlog_ids = fields.Many2many(
        "distribution.queue.backlog",
        compute="_compute_health_queue_backlog",
        string="Queue backlog",
    )

    def _health_rows(self, query):
        """{backend id: row dict} of a query returning ``backend_id`` first."""
        if not self.ids:
            return {}
        self.env.cr.execute(query)
        names = [column.name for column in self.env.cr.description]
        return {
            row[0]: dict(zip(names, row, strict=True)) for row in self.env.cr.fetchall()
        }

    def _compute_health(self):
        self.env["distribution.exchange"].flush_model()
        window_start = fields.Datetime.now() - timedelta(days=HEALTH_WINDOW_DAYS)
        ids = tuple(self.ids) or (0,)
        current = self._health_rows(
            SQL(
                """
                SELECT backend_id,
                       MAX(processed_at) FILTER (WHERE state = 'done')
                           AS last_success_at,
                       MAX(received_at) FILTER (WHERE direction = 'in')
                           AS last_inbound_at,
                       COUNT(*) FILTER (WHERE state IN %s) AS pending_count
                FROM distribution_exchange
                WHERE backend_id IN %s AND call_log IS NOT TRUE
                GROUP BY backend_id
                """,
                PENDING_STATES,
                ids,
            )
        )
        window = self._health_rows(
            SQL(
                """
                SELECT backend_id,
                       COUNT(*) AS exchange_count,
                       COUNT(*) FILTER (WHERE state = 'error') AS error_count,
                       100.0 * COUNT(*) FILTER (WHERE state = 'error')
                           / NULLIF(COUNT(*) FILTER (
                               WHERE state IN ('done', 'error')), 0)
                           AS failure_rate,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY GREATEST(
                           EXTRACT(EPOCH FROM processed_at - received_at), 0))
                           FILTER (WHERE state = 'done' AND direction = 'in')
                           AS latency_p50,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY GREATEST(
                           EXTRACT(EPOCH FROM processed_at - received_at), 0))
                           FILTER (WHERE state = 'done' AND direction = 'in')
                           AS latency_p95,
                       SUM(COALESCE(duplicate_count, 0)) AS duplicate_count
                FROM distribution_exchange
                WHERE backend_id IN %s AND call_log IS NOT TRUE
                  AND received_at >= %s
                GROUP BY backend_id
                """,
                ids,
                window_start,
            )
        )
        for backend in self:
            now_row = current.get(backend.id, {})
            row = window.get(backend.id, {})
            backend.health_window_days = HEALTH_WINDOW_DAYS
            backend.health_last_success_at = now_row.get("last_success_at")
            backend.health_last_inbound_at = now_row.get("last_inbound_at")
            backend.health_pending_count = now_row.get("pending_count") or 0
            backend.health_exchange_count = row.get("exchange_count") or 0
            backend.health_error_count = row.get("error_count") or 0
            backend.health_failure_rate = float(row.get("failure_rate") or 0.0)
            backend.health_latency_p50 = row.get("latency_p50") or 0.0
            backend.health_latency_p95 = row.get("latency_p95") or 0.0
            backend.health_duplicate_count = row.get("duplicate_count") or 0

    def _compute_health_exceptions(self):
        self.env["distribution.exception"].flush_model()
        counts = {}
        for line in self.env["distribution.exception.age"].search(
            [("backend_id", "in", self.ids)]
        ):
            total = counts.setdefault(line.backend_id.id, [0, 0, 0, 0])
            for index, value in enumerate(
                (line.age_1h, line.age_1d, line.age_7d, line.age_older)
            ):
                total[index] += value
        for backend in self:
            (
                backend.health_exception_1h,
                backend.health_exception_1d,
                backend.health_exception_7d,
                backend.health_exception_older,
            ) = counts.get(backend.id, (0, 0, 0, 0))

    def _compute_health_queue_backlog(self):
        self.env["queue.job"].flush_model()
        backlog = self.env["distribution.queue.backlog"].search(
            [], limit=MAX_QUEUE_CHANNELS
        )
        for backend in self:
            backend.health_queue_backlog_ids = backlog

    # -- buttons: the lists behind the figures ----------------------------------

    def _exchange_action(self, domain, name):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_exchange"
        )
        action.update(
            name=name,
            domain=[("backend_id", "=", self.id), ("call_log", "=", False), *domain],
            context={},
        )
        return action

    def action_health_pending(self):
        return self._exchange_action(
            [("state", "in", PENDING_STATES)], self.env._("Pending exchanges")
        )

    def action_health_errors(self):
        window_start = fields.Datetime.now() - timedelta(days=HEALTH_WINDOW_DAYS)
        return self._exchange_action(
            [("state", "=", "error"), ("received_at", ">=", window_start)],
            self.env._("Exchanges in error"),
        )

    def action_health_duplicates(self):
        window_start = fields.Datetime.now() - timedelta(days=HEALTH_WINDOW_DAYS)
        return self._exchange_action(
            [("duplicate_count", ">", 0), ("received_at", ">=", window_start)],
            self.env._("Exchanges received more than once"),
        )

    def action_health_open(self):
        """The Health screen of this backend."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Health of %(backend)s", backend=self.name),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [
                (
                    self.env.ref(
                        "distribution_sync.distribution_backend_view_form_health"
                    ).id,
                    "form",
                )
            ],
        }

    def action_health_analysis(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync.action_distribution_exchange_report"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action
