from odoo import fields, models, tools
from odoo.tools import SQL


class DistributionQueueBacklog(models.Model):
    """Queue jobs not finished yet, per queue channel and company: what the
    job runner still has to do, and how long the oldest has been waiting.

    Each company sees its own jobs only (record rule on ``company_id``, the
    company a job was enqueued in)."""

    _name = "distribution.queue.backlog"
    _description = "Queue backlog per channel"
    _auto = False
    _order = "channel"
    _rec_name = "channel"

    channel = fields.Char(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    waiting_count = fields.Integer(
        string="Waiting", readonly=True, help="Pending, or waiting on other jobs."
    )
    enqueued_count = fields.Integer(string="Enqueued", readonly=True)
    started_count = fields.Integer(string="Running", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    backlog_count = fields.Integer(
        string="Backlog", readonly=True, help="Waiting, enqueued and running jobs."
    )
    oldest_at = fields.Datetime(
        string="Oldest waiting since", aggregator="min", readonly=True
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
            CREATE OR REPLACE VIEW %s AS (
                SELECT
                    row_number() OVER (ORDER BY j.channel, j.company_id) AS id,
                    j.channel,
                    j.company_id,
                    COUNT(*) FILTER (
                        WHERE j.state IN ('pending', 'wait_dependencies'))
                        AS waiting_count,
                    COUNT(*) FILTER (WHERE j.state = 'enqueued') AS enqueued_count,
                    COUNT(*) FILTER (WHERE j.state = 'started') AS started_count,
                    COUNT(*) FILTER (WHERE j.state = 'failed') AS failed_count,
                    COUNT(*) FILTER (WHERE j.state IN (
                        'pending', 'wait_dependencies', 'enqueued', 'started'))
                        AS backlog_count,
                    MIN(j.date_created) FILTER (WHERE j.state IN (
                        'pending', 'wait_dependencies', 'enqueued'))
                        AS oldest_at
                FROM queue_job j
                WHERE j.state IN (
                    'pending', 'wait_dependencies', 'enqueued', 'started', 'failed')
                GROUP BY j.channel, j.company_id
            )
            """,
                SQL.identifier(self._table),
            )
        )
