from odoo import fields, models, tools
from odoo.tools import SQL

from ..models.distribution_exception import EXCEPTION_TYPES


class DistributionExceptionAge(models.Model):
    """Open exceptions per backend and type, counted by age: opened less
    than an hour ago, within a day, within a week, or earlier."""

    _name = "distribution.exception.age"
    _description = "Open exceptions by type and age"
    _auto = False
    _order = "backend_id, open_count desc, type"

    backend_id = fields.Many2one("distribution.backend", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    type = fields.Selection(EXCEPTION_TYPES, readonly=True)
    open_count = fields.Integer(string="Open", readonly=True)
    age_1h = fields.Integer(string="< 1 hour", readonly=True)
    age_1d = fields.Integer(string="1 hour - 1 day", readonly=True)
    age_7d = fields.Integer(string="1 - 7 days", readonly=True)
    age_older = fields.Integer(string="> 7 days", readonly=True)
    oldest_at = fields.Datetime(string="Oldest", aggregator="min", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
            CREATE OR REPLACE VIEW %s AS (
                WITH open_exception AS (
                    SELECT x.backend_id, x.company_id, x.type, x.create_date,
                           (now() AT TIME ZONE 'UTC') - x.create_date AS age
                    FROM distribution_exception x
                    WHERE x.state = 'open'
                )
                SELECT
                    row_number() OVER (ORDER BY backend_id, type) AS id,
                    backend_id,
                    MIN(company_id) AS company_id,
                    type,
                    COUNT(*) AS open_count,
                    COUNT(*) FILTER (WHERE age < interval '1 hour') AS age_1h,
                    COUNT(*) FILTER (
                        WHERE age >= interval '1 hour' AND age < interval '1 day')
                        AS age_1d,
                    COUNT(*) FILTER (
                        WHERE age >= interval '1 day' AND age < interval '7 days')
                        AS age_7d,
                    COUNT(*) FILTER (WHERE age >= interval '7 days') AS age_older,
                    MIN(create_date) AS oldest_at
                FROM open_exception
                GROUP BY backend_id, type
            )
            """,
                SQL.identifier(self._table),
            )
        )
