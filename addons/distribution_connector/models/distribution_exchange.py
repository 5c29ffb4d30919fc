import json
import logging
import traceback
import uuid

import psycopg2

from odoo import api, fields, models, modules
from odoo.tools import SQL, sql

from odoo.addons.queue_job.delay import Delayable
from odoo.addons.queue_job.exception import RetryableJobError

from ..errors import (
    DistributionError,
    NotAppliedError,
    PermanentError,
    TransientError,
)
from ..jobs import delay_many
from ..tools import inbox

_logger = logging.getLogger(__name__)

# exchanges one dispatcher job enqueues before handing over to the next
DISPATCH_BATCH_SIZE = 500
# seconds a dispatcher that found less than a batch leaves to its follow-up,
# gathering what arrives meanwhile into one batch
DISPATCH_INTERVAL = 1
# seconds before a dispatcher that found nothing takes its last look
LAST_LOOK_DELAY = 5

#: fields whose own index an earlier version had: the event's unique index
#: and the result index (``_result_idx``) replaced them
SUPERSEDED_FIELD_INDEXES = ("topic", "res_model")

STATES = [
    ("received", "Received"),
    ("processing", "Processing"),
    ("done", "Done"),
    ("error", "Error"),
    ("ignored", "Ignored"),
    ("refused", "Refused"),
]

#: How an inbound exchange is stored (see ``_insert_inbound``): a function,
#: so one round trip, and less Python per webhook than plain statements
#: (measured). Webhooks call it on connections that keep its plans
#: (``tools/inbox.py``); on Odoo's pooled connections, reset (``DISCARD
#: ALL``) whenever they are handed out, every call plans its statements
#: again: each is kept simple, and the ones a call does not need (the insert
#: for a known event, the running dispatcher's lookup while one waits) are
#: not planned at all.
INSERT_INBOUND_FUNCTION = """
CREATE FUNCTION distribution_exchange_insert_inbound(
    p_backend integer, p_company integer, p_topic varchar, p_kind varchar,
    p_event varchar, p_ref varchar, p_correlation varchar,
    p_content_type varchar, p_body text, p_headers text, p_uid integer,
    p_dispatcher varchar,
    OUT exchange_id integer, OUT created boolean,
    OUT dispatcher_waiting boolean
) LANGUAGE plpgsql AS $function$
BEGIN
    LOOP
        -- a plain read first: a redelivery never waits for the transaction
        -- of a job updating the exchange, as the insert's conflict check would
        SELECT exchange.id INTO exchange_id FROM distribution_exchange exchange
         WHERE exchange.backend_id = p_backend AND exchange.direction = 'in'
           AND exchange.topic = p_topic AND exchange.external_event_id = p_event;
        IF FOUND THEN
            created := FALSE;
            dispatcher_waiting := TRUE;
            -- one more delivery, for the dashboards: a statistic, never
            -- worth a wait (not counted while a job holds the row)
            UPDATE distribution_exchange exchange
               SET duplicate_count = COALESCE(exchange.duplicate_count, 0) + 1
             WHERE exchange.id = (SELECT locked.id FROM distribution_exchange locked
                                   WHERE locked.id = exchange_id
                                     FOR UPDATE SKIP LOCKED);
            RETURN;
        END IF;
        INSERT INTO distribution_exchange (
            backend_id, company_id, direction, topic, kind,
            external_event_id, external_ref, correlation_id,
            content_type, raw_body, headers, received_at, state,
            attempts, duplicate_count,
            create_uid, create_date, write_uid, write_date)
        VALUES (
            p_backend, p_company, 'in', p_topic, p_kind,
            p_event, p_ref, p_correlation,
            p_content_type, p_body, p_headers, now() at time zone 'UTC',
            'received', 0, 0,
            p_uid, now() at time zone 'UTC', p_uid, now() at time zone 'UTC')
        ON CONFLICT (backend_id, direction, topic, external_event_id) DO NOTHING
        RETURNING id INTO exchange_id;
        -- not inserted: another transaction committed the event meanwhile
        -- (only outside REPEATABLE READ, which raises a serialization
        -- failure instead); the read of the next turn finds it
        EXIT WHEN FOUND;
    END LOOP;
    created := TRUE;
    -- the waiting dispatcher is found on queue_job's partial index; the
    -- running one only when none waits: it reads the index of every job
    -- state, whose entries for jobs gone past 'started' pile up until vacuum
    dispatcher_waiting := EXISTS (
        SELECT 1 FROM queue_job job
         WHERE job.identity_key = p_dispatcher
           AND job.state IN ('pending', 'enqueued'));
    IF NOT dispatcher_waiting THEN
        dispatcher_waiting := EXISTS (
            SELECT 1 FROM queue_job job
             WHERE job.identity_key = p_dispatcher
               AND job.state = 'started'
               AND job.date_started > now() at time zone 'UTC' - interval '1 minute');
    END IF;
END
$function$
"""


class DistributionExchange(models.Model):
    """One message exchanged with a backend: the inbox and the outbox.

    Inbound webhooks land here first (insert-or-ignore on the event id), then
    a queue job processes them. Outbound calls are logged here with their
    response.
    """

    _name = "distribution.exchange"
    _description = "Distribution Exchange"
    _order = "id desc"
    _rec_name = "display_name"

    # indexed by the unique constraint below, which starts with it
    backend_id = fields.Many2one(
        "distribution.backend",
        required=True,
        ondelete="restrict",
        readonly=True,
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")],
        required=True,
        default="in",
        readonly=True,
    )
    # searched with its backend and direction: the event's unique index
    # below serves that; an index of its own would only cost every insert
    topic = fields.Char(required=True, readonly=True)
    kind = fields.Char(
        string="Canonical object",
        readonly=True,
        help="Canonical object the topic carries.",
    )
    external_event_id = fields.Char(
        string="Event id",
        required=True,
        readonly=True,
        help="The sender's delivery identifier: the same event delivered twice "
        "is stored once.",
    )
    external_ref = fields.Char(
        string="External reference",
        index="btree_not_null",
        readonly=True,
        help="External id of the business object (order number...).",
    )
    correlation_id = fields.Char(
        required=True, index=True, readonly=True, default=lambda self: uuid.uuid4().hex
    )
    content_type = fields.Char(readonly=True)
    raw_body = fields.Text(
        readonly=True, help="The payload exactly as received or sent."
    )
    headers = fields.Text(
        readonly=True, help="Selected headers, JSON (never auth headers)."
    )
    received_at = fields.Datetime(
        default=fields.Datetime.now, required=True, readonly=True
    )
    dispatched_at = fields.Datetime(
        readonly=True,
        help="When the job processing this exchange was enqueued. Received "
        "exchanges without it are waiting for their backend's dispatcher.",
    )
    processed_at = fields.Datetime(readonly=True)
    state = fields.Selection(
        STATES, required=True, default="received", index=True, readonly=True
    )
    attempts = fields.Integer(readonly=True)
    # indexed with res_id (``_result_idx``)
    res_model = fields.Char(string="Result model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Result record", model_field="res_model", readonly=True
    )
    error = fields.Text(readonly=True)
    reason = fields.Text(
        readonly=True,
        help="Why nothing of this exchange was applied: ignored (a topic "
        "not handled, a version older than the one applied) or refused (the "
        "signed body is not what its unsigned headers claim).",
    )
    response_status = fields.Integer(
        readonly=True, help="HTTP status of an outbound call."
    )
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True)
    call_log = fields.Boolean(
        readonly=True,
        help="A record of one HTTP call made by the HTTP client: kept for "
        "tracing, never processed nor retried.",
    )
    response_body = fields.Text(
        readonly=True, help="What the other side answered to an outbound call."
    )
    duplicate_count = fields.Integer(
        string="Duplicates",
        readonly=True,
        help="Deliveries of the same event received after this one and "
        "collapsed into it.",
    )

    _event_unique = models.Constraint(
        "UNIQUE(backend_id, direction, topic, external_event_id)",
        "This event was already received.",
    )
    # what the dispatcher reads: the few exchanges still waiting for a job
    _undispatched_idx = models.Index(
        "(backend_id, id) WHERE state = 'received' AND dispatched_at IS NULL"
    )
    # the exchanges of a record (smart buttons of sales orders and transfers,
    # on every form opened): an index on the model alone made PostgreSQL read
    # every exchange of that model; an exchange gets its result after it is
    # stored, so a webhook's insert does not touch this index
    _result_idx = models.Index("(res_model, res_id) WHERE res_model IS NOT NULL")

    def init(self):
        result = super().init()
        # Odoo keeps the index of a field that no longer asks for one
        for name in SUPERSEDED_FIELD_INDEXES:
            sql.drop_index(
                self.env.cr, sql.make_index_name(self._table, name), self._table
            )
        # dropped first: an older version returned a set of rows
        self.env.cr.execute(
            "DROP FUNCTION IF EXISTS distribution_exchange_insert_inbound"
        )
        self.env.cr.execute(INSERT_INBOUND_FUNCTION)
        return result

    @api.depends("backend_id", "topic", "external_ref", "external_event_id")
    def _compute_display_name(self):
        for exchange in self:
            exchange.display_name = " / ".join(
                [
                    exchange.backend_id.name or "",
                    exchange.topic or "",
                    exchange.external_ref or exchange.external_event_id or "",
                ]
            )

    # -- inbox ----------------------------------------------------------------

    @api.model
    def _insert_inbound(
        self,
        backend,
        topic,
        kind,
        event_id,
        external_ref,
        body,
        content_type,
        headers,
        committed=False,
        dispatch=True,
    ):
        """Insert an inbound exchange unless the event is known already (then
        count one more delivery), and make sure its backend's dispatcher will
        enqueue its processing.

        One call of a function (``INSERT_INBOUND_FUNCTION``), safe under
        concurrency.
        A known event is found by a plain read, so a redelivery never waits,
        even while a job holds the exchange's row. Two first deliveries of
        one event racing each other end with one row: the loser waits for
        the winner's commit on the unique index, then finds the row and
        inserts nothing (under Odoo's REPEATABLE READ isolation, after a
        serialization failure and a replay of its transaction, which the
        HTTP layer does for requests). The same call tells whether a
        dispatcher is already waiting to run or running (it hands over to a
        follow-up, see ``dispatch``; one started over a minute ago is taken
        for dead); only when none is, one is enqueued, in the caller's
        transaction.

        :param committed: store the exchange in a transaction of its own,
            committed before this returns, on one of the connections kept
            for it (``tools/inbox.py``: they keep their plans), whatever
            becomes of the caller's transaction, whose snapshot may not see
            the row; should the caller's fail, the dispatcher it enqueued is
            lost too and the exchange waits for the safety net
            (``_cron_dispatch``). For webhooks, answered once their event is
            stored. Tests run every request inside the test's transaction,
            which never commits and which another connection cannot see:
            there the caller's transaction stores it.
        :param dispatch: make sure the backend's dispatcher will enqueue its
            processing (unless the backend is paused); False for an exchange
            that the caller records as not applied or failed
        :return: (exchange, created)
        """
        correlation_id = headers.get("x-correlation-id") or uuid.uuid4().hex
        query = SQL(
            "SELECT * FROM distribution_exchange_insert_inbound("
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            backend.id,
            backend.company_id.id,
            topic,
            kind,
            event_id[:255],
            external_ref,
            correlation_id[:64],
            content_type,
            body.decode("utf-8", errors="replace"),
            json.dumps(headers, sort_keys=True),
            self.env.uid,
            self._dispatcher_identity_key(backend),
        )
        if committed and not modules.module.current_test:
            [row] = inbox.connections.commit(self.env.cr.dbname, query)
        else:
            self.flush_model(["backend_id", "direction", "topic", "external_event_id"])
            self.env["queue.job"].flush_model(["identity_key", "state", "date_started"])
            # under concurrency PostgreSQL may ask to replay the transaction
            # (serialization failure): expected, replayed by the HTTP layer
            self.env.cr.execute(query, log_exceptions=False)
            row = self.env.cr.fetchone()
            if not row[1]:
                self.invalidate_model(["duplicate_count"])
        exchange_id, created, dispatcher_waiting = row
        # a paused backend's exchanges wait: resuming it dispatches them
        if created and dispatch and not dispatcher_waiting and not backend.paused:
            self._delay_dispatch(backend)
        return self.browse(exchange_id), created

    # -- dispatching: from the inbox to the job queue ----------------------------
    #
    # Storing an inbound exchange only makes sure its backend's dispatcher job
    # is waiting or running (``_insert_inbound``); the dispatcher enqueues one
    # ``process`` job per received exchange, in batches. Creating a queue job
    # costs more than storing the exchange itself, and a webhook's sender
    # waits for neither.
    #
    # A dispatcher that starts before the transaction storing an exchange
    # commits does not see it: that is why every dispatcher hands over to a
    # follow-up, and why a cron (``_cron_dispatch``) catches whatever is left.
    # The follow-up runs at once when the dispatcher found a full batch (a
    # backlog), a second later when it found less (what arrives meanwhile
    # makes one batch: under a steady flow of webhooks, one dispatcher run a
    # second rather than one every few webhooks), a few seconds later when it
    # found none (its last look). A webhook arriving while a dispatcher runs
    # (or waits) thus needs none of its own.

    def _dispatcher_identity_key(self, backend, last_look=False):
        key = f"distribution.exchange.dispatch:{backend.id}"
        return f"{key}:last-look" if last_look else key

    @api.model
    def _delay_dispatch(
        self, backend, batch_size=DISPATCH_BATCH_SIZE, last_look=False, eta=None
    ):
        self._job_records(backend).with_delay(
            description=f"Dispatch received exchanges of backend #{backend.id}",
            identity_key=self._dispatcher_identity_key(backend, last_look),
            # before the backlog of its own channel: it only enqueues
            priority=1,
            eta=LAST_LOOK_DELAY if last_look else eta,
        ).dispatch(backend.id, batch_size=batch_size, last_look=last_look)

    @api.model
    def dispatch(self, backend_id, batch_size=DISPATCH_BATCH_SIZE, last_look=False):
        """Queue job entry point: enqueue ``process`` for the received
        exchanges of one backend that have no job yet, oldest first.

        Safe to run twice at once (rows taken are skipped by the other run).
        Hands over to a follow-up dispatcher: at once when it found a full
        batch (the rest of a backlog), ``DISPATCH_INTERVAL`` seconds later
        when it found less (what arrives meanwhile), ``LAST_LOOK_DELAY``
        seconds later when it found none (``last_look``: an exchange
        committed just after this job started); a last look that finds
        nothing ends the chain.
        """
        backend = self.env["distribution.backend"].browse(backend_id).exists()
        if not backend:
            return "nothing to do: backend deleted"
        if backend.paused:
            # resuming the backend dispatches what waits (action_resume)
            return "nothing to do: backend paused"
        self.flush_model(["backend_id", "state", "dispatched_at"])
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM distribution_exchange
                 WHERE backend_id = %s AND state = 'received'
                   AND dispatched_at IS NULL
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                backend.id,
                batch_size,
            )
        )
        rows = self.env.cr.fetchall()
        if not rows:
            if not last_look:
                self._delay_dispatch(backend, batch_size=batch_size, last_look=True)
            return "nothing to do: no received exchange waiting"
        exchanges = self.browse([exchange_id for (exchange_id,) in rows])
        exchanges._mark_dispatched()
        # the rows taken (locked, then marked dispatched) are this run's
        # alone, and nothing clears the mark: none of them can have a job
        # waiting, so their jobs need no identity key and are stored together
        exchanges._delay_process_many(backend)
        self._delay_dispatch(
            backend,
            batch_size=batch_size,
            eta=None if len(rows) == batch_size else DISPATCH_INTERVAL,
        )
        return f"{len(rows)} exchange(s) enqueued"

    @api.model
    def _cron_dispatch(self):
        """Safety net: dispatch exchanges received without a dispatcher
        (a race with a starting dispatcher, a job deleted by hand). Those of
        a paused backend wait for it to be resumed."""
        self.flush_model(["backend_id", "state", "dispatched_at", "received_at"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT backend_id FROM distribution_exchange
                 WHERE state = 'received' AND dispatched_at IS NULL
                   AND received_at < now() at time zone 'UTC' - interval '1 minute'
                """
            )
        )
        backends = self.env["distribution.backend"].browse(
            [row[0] for row in self.env.cr.fetchall()]
        )
        for backend in backends.filtered(lambda b: not b.paused):
            self._delay_dispatch(backend)

    def _mark_dispatched(self):
        if self:
            self.env.cr.execute(
                SQL(
                    "UPDATE distribution_exchange"
                    " SET dispatched_at = now() at time zone 'UTC'"
                    " WHERE id = ANY(%s)",
                    self.ids,
                )
            )
            self.invalidate_recordset(["dispatched_at"])

    def _enqueue_processing(self):
        """One queue job per exchange, run as the backend's technical user.

        The job carries the exchange id only: no payload, no secret.
        """
        self._mark_dispatched()
        for exchange in self:
            exchange._delay_process(exchange.backend_id, exchange.attempts)

    def _delay_process(self, backend, attempts):
        """Enqueue ``process`` for this exchange, reading nothing from it.

        A job of the same attempt already waiting (a second click on Retry)
        is reused rather than doubled, at the cost of one query.
        """
        self.ensure_one()
        self._job_records(backend).with_delay(
            description=f"Process exchange #{self.id}",
            identity_key=f"distribution.exchange.process:{self.id}:{attempts}",
        ).process()

    def _delay_process_many(self, backend):
        """Enqueue ``process`` for each of these exchanges, none of which
        has a job waiting: no identity key, and the jobs are stored in one
        statement (``delay_many``)."""
        records = self._job_records(backend)
        delay_many(
            Delayable(
                records.browse(exchange_id),
                description=f"Process exchange #{exchange_id}",
            ).process()
            for exchange_id in self.ids
        )

    def _job_records(self, backend):
        """These records, as the backend's jobs run them: as its technical
        user, in its company, without chatter tracking."""
        return (
            self.with_user(backend.job_user_id)
            .with_company(backend.company_id)
            .with_context(
                tracking_disable=True,
                mail_create_nolog=True,
                mail_create_nosubscribe=True,
            )
        )

    # -- processing -------------------------------------------------------------

    def process(self):
        """Queue job entry point: apply one exchange.

        Idempotent: a done, ignored or refused exchange is left alone. An
        inbound exchange of a paused backend goes back to waiting for its
        dispatcher, which runs again once the backend is resumed. Business
        and permanent failures are recorded (exchange in error + typed
        exception) and the job ends cleanly, so the record survives; an
        event that must not be applied (``NotAppliedError``) is recorded
        with its reason; transient failures raise ``RetryableJobError`` and
        the whole attempt rolls back.
        """
        self.ensure_one()
        if self.state in ("done", "ignored", "refused"):
            return f"nothing to do: exchange already {self.state}"
        if self.direction == "in" and self.backend_id.paused:
            self.write({"state": "received", "dispatched_at": False})
            return "nothing to do: backend paused, processed once resumed"
        self.write({"state": "processing", "attempts": self.attempts + 1})
        try:
            with self.env.cr.savepoint():
                result = self._apply()
        except TransientError as err:
            if self._is_last_attempt():
                self._record_failure(err)
                return f"failed: {err.kind}, retries exhausted"
            # the other side's delay when it gave one, else the job
            # function's retry pattern (data/queue_job_data.xml)
            raise RetryableJobError(
                self.backend_id._redact(err.message), seconds=err.retry_after
            ) from err
        except RetryableJobError:
            raise
        except psycopg2.Error:
            # The transaction is unusable: let the runner roll it back. It
            # retries serialization failures, deadlocks and lock timeouts;
            # anything else fails the job, visibly, in the job queue.
            raise
        except NotAppliedError as err:
            self._record_not_applied(err)
            return f"{err.state}: {err.kind}"
        except DistributionError as err:
            self._record_failure(err)
            return f"failed: {err.kind}"
        except Exception as err:
            details = self.backend_id._redact(traceback.format_exc())
            # the traceback may quote secrets: log it redacted
            _logger.error(
                "Unexpected error processing exchange %s\n%s", self.id, details
            )
            self._record_failure(
                DistributionError(
                    f"{type(err).__name__}: {err}",
                    kind="internal",
                    details=details,
                )
            )
            return "failed: internal"
        self._record_success(result)
        return f"done: {self.res_model or ''} {self.res_id or ''}".strip()

    def _is_last_attempt(self):
        """True when the running job will not be retried after this attempt."""
        job_uuid = self.env.context.get("job_uuid")
        if not job_uuid:
            return False
        job = self.env["queue.job"].sudo().search([("uuid", "=", job_uuid)], limit=1)
        return bool(job.max_retries) and job.retry + 1 >= job.max_retries

    def _apply(self):
        """Apply the exchange to Odoo; return the resulting record (or None).

        Flows (in other addons) override this. Raise a ``DistributionError``
        subclass for anything that cannot be applied.
        """
        raise DistributionError(
            self.env._("No flow handles topic %(topic)s.", topic=self.topic),
            kind="unsupported_topic",
            key=self.topic,
        )

    def _record_success(self, result):
        vals = {"state": "done", "processed_at": fields.Datetime.now(), "error": False}
        if isinstance(result, models.BaseModel) and len(result) == 1:
            vals.update(res_model=result._name, res_id=result.id)
        self.write(vals)

    def _record_failure(self, err):
        """Keep the failure visible; never raise from here."""
        self.write(
            {
                "state": "error",
                "processed_at": fields.Datetime.now(),
                "error": self.backend_id._redact(err.message),
            }
        )

    def _record_not_applied(self, err):
        """Record an authentic event that changes nothing, with its reason
        (``NotAppliedError``); never raise from here."""
        if err.state == "refused":
            _logger.warning(
                "Refused exchange %s of backend %s: %s",
                self.id,
                self.backend_id.id,
                err.message,
            )
        vals = {
            "state": err.state,
            "processed_at": fields.Datetime.now(),
            "reason": self.backend_id._redact(err.message),
            "error": False,
        }
        record = err.record
        if isinstance(record, models.BaseModel) and len(record) == 1:
            vals.update(res_model=record._name, res_id=record.id)
        self.write(vals)

    def _record_failure_unreadable(self, err):
        self._record_failure(
            PermanentError(f"The body is not valid JSON: {err}", kind="invalid_payload")
        )

    # -- user actions -------------------------------------------------------------

    def action_retry(self):
        """Process again once the cause is fixed; done exchanges are skipped."""
        to_retry = self.filtered(
            lambda e: e.state in ("error", "received") and not e.call_log
        )
        to_retry.write({"state": "received"})
        to_retry._enqueue_processing()
        return True

    def action_ignore(self):
        self.filtered(lambda e: e.state not in ("done", "refused")).write(
            {"state": "ignored", "processed_at": fields.Datetime.now()}
        )
        return True

    def _result_record(self):
        """The record this exchange produced, or an empty recordset (none
        yet, deleted, or of a model that is not installed)."""
        self.ensure_one()
        if not (self.res_model and self.res_id) or self.res_model not in self.env:
            return self.browse()
        return self.env[self.res_model].browse(self.res_id).exists()

    def action_open_result(self):
        self.ensure_one()
        record = self._result_record()
        if not record:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
        }

    def _pretty_body(self):
        try:
            return json.dumps(json.loads(self.raw_body or ""), indent=2, sort_keys=True)
        except ValueError:
            return self.raw_body
