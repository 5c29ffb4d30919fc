import time

from odoo import fields, models
from odoo.tools import SQL


class DistributionBackendThrottle(models.Model):
    """Token bucket of a backend's outbound calls, shared by every worker.

    One row per backend, updated under a row lock in its own short
    transaction, so that all Odoo workers and job runners together stay
    within the rate the backend allows.
    """

    _name = "distribution.backend.throttle"
    _description = "Outbound rate limit of a distribution backend"
    _log_access = False

    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", index=True
    )
    tokens = fields.Float(required=True)
    updated_at = fields.Float(required=True, help="Epoch seconds of the last refill.")

    _backend_unique = models.Constraint("UNIQUE(backend_id)", "One bucket per backend.")

    def _take(self, backend, rate, burst):
        """Take one token; return the seconds to wait before using it.

        Tokens may go negative: each caller reserves its place in line, so
        the calls are spaced by ``1 / rate`` seconds whatever the number of
        workers, and nobody spins.
        """
        now = time.time()
        with self.env.registry.cursor() as cr:
            cr.execute(
                SQL(
                    """
                    INSERT INTO distribution_backend_throttle
                        (backend_id, tokens, updated_at)
                    VALUES (%s, %s, %s)
                    ON CONFLICT (backend_id) DO NOTHING
                    """,
                    backend.id,
                    float(burst),
                    now,
                )
            )
            cr.execute(
                SQL(
                    "SELECT tokens, updated_at FROM distribution_backend_throttle "
                    "WHERE backend_id = %s FOR UPDATE",
                    backend.id,
                )
            )
            tokens, updated_at = cr.fetchone()
            tokens = min(float(burst), tokens + max(0.0, now - updated_at) * rate) - 1
            cr.execute(
                SQL(
                    "UPDATE distribution_backend_throttle SET tokens = %s, "
                    "updated_at = %s WHERE backend_id = %s",
                    tokens,
                    now,
                    backend.id,
                )
            )
        return max(0.0, -tokens / rate)
