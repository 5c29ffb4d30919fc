from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from odoo import fields, models
from odoo.tools import SQL

#: Take one token, in one statement. The bucket's clock is ``updated_at``:
#: the statement's start, never moved backwards, so a caller that waited
#: for the row's lock only defers the refill to the next caller and no time
#: is lost or counted twice. A caller who would have to wait longer than
#: ``max_wait`` takes nothing (the row is left as it was, and no row is
#: returned): a token is only ever taken by a caller who will call, so there
#: is nothing to give back. The row's lock is held until the short
#: transaction ends, a few milliseconds.
TAKE_TOKEN = """
INSERT INTO distribution_backend_throttle AS bucket (backend_id, tokens, updated_at)
VALUES (%(backend)s, %(burst)s - 1, EXTRACT(EPOCH FROM statement_timestamp())::float8)
ON CONFLICT (backend_id) DO UPDATE
   SET tokens = LEAST(%(burst)s, bucket.tokens
                      + GREATEST(0, EXCLUDED.updated_at - bucket.updated_at)
                        * %(rate)s) - 1,
       updated_at = GREATEST(bucket.updated_at, EXCLUDED.updated_at)
 WHERE LEAST(%(burst)s, bucket.tokens
             + GREATEST(0, EXCLUDED.updated_at - bucket.updated_at) * %(rate)s) - 1
       >= -%(max_wait)s * %(rate)s
RETURNING GREATEST(0, bucket.updated_at - bucket.tokens / %(rate)s
                      - EXTRACT(EPOCH FROM clock_timestamp())::float8)
"""

#: seconds until a caller who took nothing could have had a token
NEXT_TOKEN = """
SELECT GREATEST(0, updated_at + (1 - LEAST(%(burst)s, tokens)) / %(rate)s
                   - EXTRACT(EPOCH FROM clock_timestamp())::float8)
  FROM distribution_backend_throttle
 WHERE backend_id = %(backend)s
"""


class DistributionBackendThrottle(models.Model):
    """Token bucket of a backend's outbound calls, shared by every worker.

    One row per backend, so that all Odoo workers and job runners together
    stay within the rate the backend allows. Tokens may go negative: each
    caller reserves its place in line, so the calls are spaced by
    ``1 / rate`` seconds whatever the number of workers, and nobody spins.
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

    def _take(self, backend, rate, burst, max_wait):
        """Take one token unless it comes later than ``max_wait`` seconds.

        :return: (taken, seconds): the seconds to wait before using the
            token taken; or, when none was taken, until one could be had
        """
        params = {
            "backend": backend.id,
            "rate": float(rate),
            "burst": float(burst),
            "max_wait": float(max_wait),
        }
        # A transaction of its own, at READ COMMITTED, around a single
        # atomic upsert. Under Odoo's REPEATABLE READ, a caller that waits
        # for the row while another caller takes a token fails with a
        # serialization error once the other commits; at READ COMMITTED it
        # waits, then computes on the row as the other left it. A cursor
        # already in a transaction is a test's, which runs everything in one
        # transaction: it keeps its isolation.
        with self.env.registry.cursor() as cr:
            if cr.connection.info.transaction_status == TRANSACTION_STATUS_IDLE:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(SQL(TAKE_TOKEN, **params))
            row = cr.fetchone()
            if row is not None:
                return True, row[0]
            cr.execute(SQL(NEXT_TOKEN, **params))
            return False, cr.fetchone()[0]
