from psycopg2.errors import LockNotAvailable, SerializationFailure

from odoo import api, fields, models
from odoo.tools import SQL


class DistributionWatermark(models.Model):
    """How far a reconciliation flow of a backend got.

    One row per (backend, flow). A run locks its row without waiting
    (``FOR UPDATE NOWAIT``): a second run of the same flow skips instead of
    pulling the same data twice. The watermark moves only once what was
    pulled is safely stored, in the same transaction.
    """

    _name = "distribution.watermark"
    _description = "Distribution Reconciliation Watermark"
    _order = "backend_id, flow"
    _rec_name = "flow"

    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    flow = fields.Char(required=True, readonly=True)
    watermark = fields.Datetime(
        readonly=True,
        help="The next run asks for what changed since this moment (minus "
        "the backend's overlap).",
    )
    last_run_at = fields.Datetime(readonly=True)
    last_result = fields.Char(readonly=True)

    _backend_flow_unique = models.Constraint(
        "UNIQUE(backend_id, flow)", "One watermark per backend and flow."
    )

    @api.model
    def _lock(self, backend, flow):
        """The (backend, flow) watermark, locked until the transaction ends;
        an empty recordset when another transaction holds it."""
        self.env.flush_all()
        row = self._lock_row(backend, flow)
        if row is None:
            # first run of this flow: create the row, then lock it
            self.env.cr.execute(
                SQL(
                    """
                    INSERT INTO distribution_watermark (
                        backend_id, company_id, flow,
                        create_uid, create_date, write_uid, write_date)
                    VALUES (%s, %s, %s, %s, now() AT TIME ZONE 'UTC',
                            %s, now() AT TIME ZONE 'UTC')
                    ON CONFLICT (backend_id, flow) DO NOTHING
                    """,
                    backend.id,
                    backend.company_id.id,
                    flow,
                    self.env.uid,
                    self.env.uid,
                )
            )
            row = self._lock_row(backend, flow)
        if not row:
            return self.browse()
        watermark = self.browse(row[0])
        watermark.invalidate_recordset()
        return watermark

    @api.model
    def _lock_row(self, backend, flow):
        """(id,) of the locked row; None when there is none; () when another
        transaction holds it."""
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    SQL(
                        """
                        SELECT id FROM distribution_watermark
                        WHERE backend_id = %s AND flow = %s
                        FOR UPDATE NOWAIT
                        """,
                        backend.id,
                        flow,
                    ),
                    log_exceptions=False,
                )
                return cr.fetchone()
        except (LockNotAvailable, SerializationFailure):
            # held by a running pull, or moved by one since this transaction began
            return ()

    def _record_run(self, result, watermark=None):
        vals = {"last_run_at": fields.Datetime.now(), "last_result": result[:255]}
        if watermark is not None:
            vals["watermark"] = watermark
        self.sudo().write(vals)
