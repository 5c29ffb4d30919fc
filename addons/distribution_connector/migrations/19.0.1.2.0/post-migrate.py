"""HTTP calls move from the exchanges to their own log.

Before this version the HTTP client (and the stock export) logged each call
as an outbound exchange flagged ``call_log``. Those rows become call logs
(``distribution.call.log``) and leave the exchanges, which keep the
business messages only. The stock checks' drift reports (inbound, also
flagged) are messages that exceptions point to: they stay exchanges.

The ``call_log``, ``response_status`` and ``duration_ms`` columns are left
in place, as Odoo leaves the columns of removed fields.
"""

import logging

from odoo.tools import SQL, sql

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version or not sql.column_exists(cr, "distribution_exchange", "call_log"):
        return
    moved = move_call_logs(cr)
    _logger.info("%s HTTP calls moved from the exchanges to the call log", moved)


def move_call_logs(cr):
    """Move the outbound ``call_log`` exchanges into ``distribution_call_log``
    (the HTTP client's ``"<METHOD> <path>"`` kind split in two; the stock
    export's own log, kind ``stock export``, has neither); return how many
    moved."""
    kept = SQL("")
    if sql.table_exists(cr, "distribution_exception"):
        # never the case of a call log; kept all the same, rather than lose
        # an exception with it
        kept = SQL(
            "AND id NOT IN (SELECT exchange_id FROM distribution_exception "
            "WHERE exchange_id IS NOT NULL)"
        )
    cr.execute(
        SQL(
            """
            WITH moved AS (
                DELETE FROM distribution_exchange
                 WHERE call_log AND direction = 'out' %s
             RETURNING *
            ), call AS (
                SELECT moved.*, kind ~ '^[A-Z]+ /' AS http FROM moved
            )
            INSERT INTO distribution_call_log (
                backend_id, company_id, called_at, topic, method, path,
                request_body, response_status, response_body, duration_ms,
                state, error, create_uid, create_date, write_uid, write_date)
            SELECT backend_id, company_id,
                   COALESCE(processed_at, received_at), topic,
                   CASE WHEN http THEN split_part(kind, ' ', 1) END,
                   CASE WHEN http THEN substr(kind, strpos(kind, ' ') + 1) END,
                   raw_body, COALESCE(response_status, 0), response_body,
                   duration_ms,
                   CASE WHEN state = 'error' THEN 'error' ELSE 'done' END,
                   error, create_uid, create_date, write_uid, write_date
              FROM call
             ORDER BY id
            """,
            kept,
        )
    )
    return cr.rowcount
