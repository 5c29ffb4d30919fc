import logging

from odoo import api, fields, models
from odoo.orm.environments import Transaction

_logger = logging.getLogger(__name__)

#: largest request or answer body kept on a call
MAX_LOGGED_BODY = 64 * 1024
#: longer than any secret: what is read beyond the cap before redaction
SECRET_MARGIN = 1024
#: context key naming the records the calls made in that context are for
ORIGIN_CONTEXT = "distribution_call_origin"


def calls_for(records):
    """Context values that tie the HTTP calls made with a backend in that
    context to ``records``: ``backend.with_context(**calls_for(records))``."""
    ids = ",".join(str(record_id) for record_id in records.ids)
    return {ORIGIN_CONTEXT: f"{records._name},{ids}"}


class DistributionCallLog(models.Model):
    """One HTTP call made to a backend, as the HTTP client made it: for
    tracing what went out and what came back, never processed nor retried.

    The business messages themselves (orders in, fulfillments out) are
    exchanges; a message may take several calls, a stock export one call per
    batch. Written by the HTTP client only (``_log_call``), in a transaction
    of its own, so that the log of a call survives a job attempt that rolls
    back.
    """

    _name = "distribution.call.log"
    _description = "Distribution HTTP Call"
    _order = "id desc"
    _rec_name = "display_name"

    backend_id = fields.Many2one(
        "distribution.backend",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    called_at = fields.Datetime(
        default=fields.Datetime.now, required=True, readonly=True
    )
    topic = fields.Char(
        readonly=True,
        help="What the call was for: stock, stock_check, fulfillment, orders...",
    )
    method = fields.Char(string="HTTP method", readonly=True)
    path = fields.Char(
        string="URL path", readonly=True, help="Without query string, redacted."
    )
    request_body = fields.Text(
        readonly=True, help="What was sent, secrets redacted, capped."
    )
    response_status = fields.Integer(
        readonly=True, help="HTTP status of the answer; 0 without an answer."
    )
    # an answer, an error answer above all, may quote data or internals of
    # the other side: users see the call's status and its error line
    response_body = fields.Text(
        readonly=True,
        groups="distribution_connector.group_distribution_manager",
        help="What the other side answered, secrets redacted, capped.",
    )
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True)
    state = fields.Selection(
        [("done", "Done"), ("error", "Error")],
        required=True,
        default="done",
        index=True,
        readonly=True,
    )
    error = fields.Text(readonly=True)
    job_uuid = fields.Char(
        string="Job UUID",
        index="btree_not_null",
        readonly=True,
        help="The queue job that made the call, if a job did.",
    )
    origin = fields.Char(
        readonly=True,
        help="The records the call was made for (model and ids), when known: "
        "the exchange a flow sends, the stock levels a job exports.",
    )

    @api.depends("backend_id", "method", "path")
    def _compute_display_name(self):
        for call in self:
            call.display_name = " ".join(
                filter(None, [call.backend_id.name, call.method, call.path])
            )

    @api.model
    def _log_call(self, backend, values):
        """Store one call of ``backend`` in a transaction of its own; return
        its id, None when it could not be stored (the call itself goes on).

        :param values: the call's fields; bodies are redacted and capped here
        """
        values = dict(values, backend_id=backend.id)
        for name in ("request_body", "response_body"):
            if values.get(name) and "\x00" in values[name]:
                # binary (a gzipped report, a file): unreadable here, and a
                # text column refuses NUL; the document itself is the
                # caller's to keep
                values[name] = f"(binary, {len(values[name])} characters, not logged)"
            elif values.get(name):
                # cut after redaction: a cut could leave half a secret that
                # redaction would not recognize
                text = values[name][: MAX_LOGGED_BODY + SECRET_MARGIN]
                values[name] = backend._redact(text)[:MAX_LOGGED_BODY]
        context = backend.env.context
        values.setdefault("job_uuid", context.get("job_uuid") or False)
        values.setdefault("origin", context.get(ORIGIN_CONTEXT) or False)
        try:
            registry = backend.env.registry
            with registry.cursor() as cr:
                # the registry at hand: looking it up by name would wait on
                # the registry lock, held while a registry loads (and while
                # its tests run), by a thread calling out for it
                cr.transaction = Transaction(registry)
                env = backend.env(cr=cr, su=True)
                return env[self._name].create(values).id
        except Exception:
            _logger.exception("Could not log an HTTP call of %s", backend.name)
            return None
