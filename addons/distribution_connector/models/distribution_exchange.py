import base64
import json
import logging
import uuid

from odoo import api, fields, models, modules
from odoo.exceptions import UserError
from odoo.tools import SQL, sql

from odoo.addons.queue_job.delay import Delayable
from odoo.addons.queue_job.job import (
    CANCELLED,
    ENQUEUED,
    FAILED,
    PENDING,
    STARTED,
    WAIT_DEPENDENCIES,
)

from .. import inbox
from ..errors import (
    DistributionError,
    NotAppliedError,
    PermanentError,
)
from ..job_policy import run_job
from ..jobs import delay_many
from ..tools.access import USER_GROUP, check_group
from .distribution_call_log import calls_for

_logger = logging.getLogger(__name__)

# exchanges one dispatcher job enqueues before handing over to the next
DISPATCH_BATCH_SIZE = 500
# seconds a dispatcher that found less than a batch leaves to its follow-up,
# gathering what arrives meanwhile into one batch
DISPATCH_INTERVAL = 1
# seconds before a dispatcher that found nothing takes its last look
LAST_LOOK_DELAY = 5

#: states of a queue job that is still to run, or running (queue_job requeues
#: a started job whose worker died)
LIVE_JOB_STATES = (WAIT_DEPENDENCIES, PENDING, ENQUEUED, STARTED)
#: system parameter: minutes a dispatched exchange is left to its job before
#: the dispatch cron checks that job (``_recover_lost_processing``)
RECOVERY_GRACE_PARAM = "distribution_connector.job_recovery_grace"
DEFAULT_RECOVERY_GRACE = 10
#: what an exchange is: stored with it, never changed afterwards, by anyone
#: (a job applies what the exchange says with superuser rights)
FROZEN_FIELDS = ("backend_id", "direction", "topic", "kind", "external_event_id")

#: fields without an index of their own: the event's unique index and the
#: result index (``_result_idx``) serve their searches; ``init`` drops such
#: an index where a database still has one, since Odoo never drops the index
#: of a field that does not ask for one
SUPERSEDED_FIELD_INDEXES = ("topic", "res_model")

#: how an inbound body's bytes are kept in ``raw_body`` (see ``body_text``)
BODY_CHARSETS = [
    ("utf-8", "UTF-8"),
    ("latin-1", "Latin-1 (one character per byte)"),
    ("base64", "Base64 (binary)"),
]


def body_text(body):
    """``(text, charset)``: the bytes of an inbound body as the text kept in
    ``raw_body``, losslessly. Valid UTF-8 as it is; any other body decoded as
    Latin-1, which maps each byte to one character and back (a CSV in
    cp1252 or an EDIFACT UNOC interchange keeps its exact bytes, decoded
    later with the partner's encoding); a body holding a NUL byte, which
    PostgreSQL text cannot store, in base64."""
    if b"\x00" in body:
        return base64.b64encode(body).decode("ascii"), "base64"
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return body.decode("latin-1"), "latin-1"


def body_bytes(text, charset):
    """The bytes ``body_text`` made ``text`` of."""
    if charset == "base64":
        return base64.b64decode(text or "")
    return (text or "").encode(charset or "utf-8")


STATES = [
    ("received", "Received"),
    ("processing", "Processing"),
    ("done", "Done"),
    ("error", "Error"),
    ("ignored", "Ignored"),
    ("refused", "Refused"),
]


class DistributionExchange(models.Model):
    """One message exchanged with a backend: the inbox and the outbox.

    Inbound webhooks land here first (insert-or-ignore on the event id), then
    a queue job processes them. Outbound messages (a fulfillment) are sent
    from here, with what the other side answered. The HTTP calls themselves
    are logged apart (``distribution.call.log``).
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
        readonly=True,
        help="The payload exactly as received or sent, as text: see "
        "Body stored as (``_get_raw_bytes`` gives the bytes received).",
    )
    raw_body_charset = fields.Selection(
        BODY_CHARSETS,
        string="Body stored as",
        default="utf-8",
        readonly=True,
        help="How the received bytes are kept in the payload text, each way "
        "lossless: UTF-8 (the body was valid UTF-8), Latin-1 (any other "
        "body, one character per byte: decode it with the sender's encoding) "
        "or base64 (a body with NUL bytes, which a text column cannot hold).",
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
    job_uuid = fields.Char(
        string="Job UUID",
        readonly=True,
        copy=False,
        help="The queue job last enqueued to process this exchange. A received "
        "exchange whose job ended without processing it (failed, cancelled, "
        "deleted) is found by the dispatch cron.",
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
    # an answer, an error answer above all, may quote data or internals of
    # the other side: users see the exchange's state and its error line
    response_body = fields.Text(
        readonly=True,
        groups="distribution_connector.group_distribution_manager",
        help="What the other side answered to an outbound message.",
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
        for name in SUPERSEDED_FIELD_INDEXES:
            sql.drop_index(
                self.env.cr, sql.make_index_name(self._table, name), self._table
            )
        inbox.create_insert_function(self.env.cr)
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
    def _receive_webhook(
        self,
        backend,
        url_topic,
        headers,
        content_type,
        body,
        params=None,
        sender=None,
        committed=False,
    ):
        """What the webhook route does with a delivery to an active backend,
        once its body is read: recognize a sender's test delivery, check the
        content type and the signature, resolve the topic, store the exchange.

        :param headers: the request's headers, names in lower case
        :param body: the raw body (bytes)
        :param params: form fields of a form-encoded body
        :param sender: the sender's address, for the log
        :param committed: see :meth:`_insert_inbound`
        :return: ``(HTTP status, message, exchange or None)``
        """
        adapter = backend._get_adapter()
        if adapter.is_ping(headers, content_type, params or {}):
            return 200, "pong", None
        if content_type not in adapter.content_types:
            return (
                415,
                f"content type {content_type or 'missing'} not accepted",
                None,
            )
        if not adapter.verify_signature(headers, body):
            _logger.warning(
                "Rejected webhook for backend %s topic %s: bad or missing signature "
                "(from %s, %d bytes)",
                backend.id,
                url_topic,
                sender,
                len(body),
            )
            return 401, "bad or missing signature", None
        topic = adapter.resolve_topic(url_topic, headers)
        kind = adapter.canonical_kind(topic)
        if not kind and topic not in adapter.ignored_topics:
            return 404, f"unknown topic {topic}", None
        exchanges = self.sudo()
        try:
            payload = adapter.parse_body(headers, body)
        except ValueError as err:
            # Authentic but unreadable: keep it for review, tell the sender.
            # Rare: stored with its failure in the caller's transaction.
            exchange, created = exchanges._insert_inbound(
                backend,
                topic,
                kind,
                adapter.event_id(topic, headers, None, body),
                None,
                body,
                content_type,
                adapter.trace_headers(headers),
                dispatch=False,
            )
            if created:
                exchange._record_failure_unreadable(err)
            return 415, "body is not valid JSON", exchange
        event_id = adapter.event_id(topic, headers, payload, body)
        external_ref = adapter.external_reference(topic, payload)
        trace_headers = adapter.trace_headers(headers)
        if not kind:
            # A topic the sender documents and no flow handles. Rare: stored
            # in the caller's transaction, with its state, so that it is
            # never seen waiting for processing.
            exchange, created = exchanges._insert_inbound(
                backend,
                topic,
                None,
                event_id,
                external_ref,
                body,
                content_type,
                trace_headers,
                dispatch=False,
            )
            if not created:
                return 200, "duplicate", exchange
            exchange._record_not_applied(
                NotAppliedError(
                    f"{adapter.label} topic {topic} is not handled: the event "
                    "is kept, nothing was applied.",
                    kind="unhandled_topic",
                )
            )
            return 200, "ignored", exchange
        exchange, created = exchanges._insert_inbound(
            backend,
            topic,
            kind,
            event_id,
            external_ref,
            body,
            content_type,
            trace_headers,
            committed=committed,
        )
        return 200, "accepted" if created else "duplicate", exchange

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

        One call of a function (``inbox/insert_inbound.sql``), safe under
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
            for it (``inbox/connections.py``: they keep their plans), whatever
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
        text, charset = body_text(body)
        query = SQL(
            "SELECT * FROM distribution_exchange_insert_inbound("
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            backend.id,
            backend.company_id.id,
            topic,
            kind,
            event_id[:255],
            external_ref,
            correlation_id[:64],
            content_type,
            text,
            charset,
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

    @api.private
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
        # the rows taken (locked, then marked dispatched) are this run's
        # alone, and nothing clears the mark: none of them can have a job
        # waiting, so their jobs need no identity key and are stored together
        jobs = exchanges._delay_process_many(backend)
        exchanges._mark_dispatched([job.uuid for job in jobs])
        self._delay_dispatch(
            backend,
            batch_size=batch_size,
            eta=None if len(rows) == batch_size else DISPATCH_INTERVAL,
        )
        return f"{len(rows)} exchange(s) enqueued"

    @api.model
    def _cron_dispatch(self):
        """Safety net: dispatch exchanges received without a dispatcher
        (a race with a starting dispatcher, a dispatcher job deleted by
        hand), and recover those whose processing job ended without
        processing them (``_recover_lost_processing``). Those of a paused
        backend wait for it to be resumed."""
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
        self._recover_lost_processing()

    def _job_recovery_grace(self):
        """Minutes a dispatched exchange is left to its job (system
        parameter ``distribution_connector.job_recovery_grace``)."""
        value = self.env["ir.config_parameter"].sudo().get_param(RECOVERY_GRACE_PARAM)
        try:
            return max(int(value), 0) if value else DEFAULT_RECOVERY_GRACE
        except ValueError:
            _logger.warning(
                "%s is not a number of minutes (%r): %s used",
                RECOVERY_GRACE_PARAM,
                value,
                DEFAULT_RECOVERY_GRACE,
            )
            return DEFAULT_RECOVERY_GRACE

    @api.model
    def _recover_lost_processing(self, batch_size=DISPATCH_BATCH_SIZE):
        """Received exchanges dispatched longer than the grace period ago
        whose job (``job_uuid``) will never process them: its job is not
        waiting, running or waiting for a retry (queue_job's states), so
        the exchange would wait for ever. What happened to the job decides:

        * gone (deleted from the job queue) or never recorded: a new job
          is enqueued; processing is idempotent;
        * failed (retries exhausted, or an error queue_job does not retry):
          the exchange goes to error with a ``job_failed`` exception keeping
          the job's error and traceback; retrying the same job would fail
          the same way, the review queue's Retry runs it once fixed;
        * cancelled, or set to done by hand without processing the
          exchange: a person stopped it; the exchange goes to error with a
          ``job_cancelled`` exception, to be retried or ignored there,
          rather than being run against that decision or left unseen.

        Rows are taken with ``SKIP LOCKED``: an exchange a job is processing
        right now is left alone.
        """
        self.flush_model(["state", "dispatched_at", "job_uuid"])
        self.env["queue.job"].flush_model(["uuid", "state"])
        self.env.cr.execute(
            SQL(
                """
                SELECT exchange.id FROM distribution_exchange exchange
                 WHERE exchange.state = 'received'
                   AND exchange.dispatched_at
                       < now() at time zone 'UTC' - make_interval(mins => %s)
                   AND NOT EXISTS (
                        SELECT 1 FROM queue_job job
                         WHERE job.uuid = exchange.job_uuid AND job.state IN %s)
                 ORDER BY exchange.id
                 LIMIT %s
                   FOR UPDATE OF exchange SKIP LOCKED
                """,
                self._job_recovery_grace(),
                LIVE_JOB_STATES,
                batch_size,
            )
        )
        exchanges = self.browse(
            [exchange_id for (exchange_id,) in self.env.cr.fetchall()]
        )
        if not exchanges:
            return
        uuids = [job_uuid for job_uuid in exchanges.mapped("job_uuid") if job_uuid]
        jobs = self.env["queue.job"].sudo().search([("uuid", "in", uuids)])
        jobs_by_uuid = {job.uuid: job for job in jobs}
        lost = self.browse()
        for exchange in exchanges:
            job = jobs_by_uuid.get(exchange.job_uuid)
            if not job:
                lost |= exchange
                continue
            _logger.info(
                "Exchange %s: its processing job %s ended %s without processing it",
                exchange.id,
                job.uuid,
                job.state,
            )
            exchange._record_failure(exchange._lost_job_error(job))
        if lost:
            _logger.info(
                "Exchanges %s: their processing job is gone, enqueued again",
                lost.ids,
            )
            lost._enqueue_processing()

    def _lost_job_error(self, job):
        """The failure recorded on this exchange, whose job ended without
        processing it."""
        if job.state == FAILED:
            return DistributionError(
                self.env._(
                    "The processing job failed in the job queue (%(error)s): "
                    "nothing was applied. Fix the cause, then retry.",
                    error=job.exc_message or job.exc_name or job.result or "",
                ),
                kind="job_failed",
                key=job.uuid,
                details=job.exc_info,
            )
        if job.state == CANCELLED:
            message = self.env._(
                "The processing job was cancelled in the job queue: nothing was "
                "applied. Retry or ignore this exchange."
            )
        else:
            message = self.env._(
                "The processing job was set to %(state)s in the job queue without "
                "processing this exchange: nothing was applied. Retry or ignore "
                "this exchange.",
                state=job.state,
            )
        return DistributionError(message, kind="job_cancelled", key=job.uuid)

    def _mark_dispatched(self, job_uuids):
        """Record that these exchanges were enqueued, and the jobs that
        process them (``job_uuids``, in the same order)."""
        if self:
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE distribution_exchange exchange
                       SET dispatched_at = now() at time zone 'UTC',
                           job_uuid = job.uuid
                      FROM unnest(%s::int[], %s::varchar[]) AS job(exchange_id, uuid)
                     WHERE exchange.id = job.exchange_id
                    """,
                    self.ids,
                    list(job_uuids),
                )
            )
            self.invalidate_recordset(["dispatched_at", "job_uuid"])

    def _enqueue_processing(self):
        """One queue job per exchange, run as the backend's technical user.

        The job carries the exchange id only: no payload, no secret.
        """
        jobs = [
            exchange._delay_process(exchange.backend_id, exchange.attempts)
            for exchange in self
        ]
        self._mark_dispatched([job.uuid for job in jobs])

    def _delay_process(self, backend, attempts):
        """Enqueue ``process`` for this exchange, reading nothing from it;
        return the job.

        A job of the same attempt already waiting (a second click on Retry)
        is reused rather than doubled, at the cost of one query.
        """
        self.ensure_one()
        return (
            self._job_records(backend)
            .with_delay(
                description=f"Process exchange #{self.id}",
                identity_key=f"distribution.exchange.process:{self.id}:{attempts}",
            )
            .process()
        )

    def _delay_process_many(self, backend):
        """Enqueue ``process`` for each of these exchanges, none of which
        has a job waiting: no identity key, and the jobs are stored in one
        statement (``delay_many``); return the jobs."""
        records = self._job_records(backend)
        return delay_many(
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

    @api.private
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
        # the HTTP calls of the attempt are logged as made for this exchange
        exchange = self.with_context(**calls_for(self))
        result = run_job(
            exchange.env,
            exchange._apply_in_savepoint,
            exchange._record_job_failure,
            redact=exchange.backend_id._redact,
            what=f"processing exchange {self.id}",
        )
        if isinstance(result, str):
            return result
        self._record_success(result[0])
        return f"done: {self.res_model or ''} {self.res_id or ''}".strip()

    def _apply_in_savepoint(self):
        """Apply the exchange; a failure undoes everything the attempt
        applied before it is recorded. Return ``(result record,)``."""
        with self.env.cr.savepoint():
            return (self._apply(),)

    def _record_job_failure(self, err):
        """How the processing job keeps a failure (``job_policy``): an event
        that must not be applied with its reason, anything else in error."""
        if isinstance(err, NotAppliedError):
            self._record_not_applied(err)
            return f"{err.state}: {err.kind}"
        self._record_failure(err)
        return None

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
        """Process again once the cause is fixed; done exchanges are skipped.

        Users read exchanges only: their state changes here, once the
        caller's group and companies are checked."""
        check_group(self, USER_GROUP)
        to_retry = self.filtered(lambda e: e.state in ("error", "received")).sudo()
        to_retry.write({"state": "received"})
        to_retry._enqueue_processing()
        return True

    def action_ignore(self):
        check_group(self, USER_GROUP)
        self.filtered(lambda e: e.state not in ("done", "refused")).sudo().write(
            {"state": "ignored", "processed_at": fields.Datetime.now()}
        )
        return True

    def write(self, vals):
        # who may write at all first, then what may change
        self.check_access("write")
        self._check_frozen(vals)
        return super().write(vals)

    def _check_frozen(self, vals):
        """Refuse to change what an exchange is (``FROZEN_FIELDS``) or what
        was received: the body of an inbound exchange never changes once
        stored; that of an outbound one is what Odoo sends, written by its
        flow (as superuser) only.

        :raise UserError: naming the exchange and the fields
        """
        body_fields = ("raw_body", "raw_body_charset")
        names = [name for name in (*FROZEN_FIELDS, *body_fields) if name in vals]
        if not names:
            return
        for exchange in self:
            changed = [
                name
                for name in names
                if _stored_value(exchange, name) != (vals[name] or False)
                and (
                    name not in body_fields
                    or exchange.direction == "in"
                    or not self.env.su
                )
            ]
            if changed:
                raise UserError(
                    self.env._(
                        "%(exchange)s keeps what it was stored with: its "
                        "%(fields)s cannot change.",
                        exchange=exchange.display_name,
                        fields=", ".join(
                            self._fields[name].get_description(self.env)["string"]
                            for name in changed
                        ),
                    )
                )

    def _result_record(self):
        """The record this exchange produced, or an empty recordset (none
        yet, deleted, of a model that is not installed, or of a company the
        current user does not work in)."""
        self.ensure_one()
        if not (self.res_model and self.res_id) or self.res_model not in self.env:
            return self.browse()
        record = self.env[self.res_model].browse(self.res_id).exists()
        company = record.sudo().company_id if "company_id" in record._fields else None
        if company and not self.env.su and company not in self.env.companies:
            return self.browse()
        return record

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

    def _get_raw_bytes(self):
        """The body exactly as received (or sent), as bytes, whichever way
        ``raw_body`` keeps it (``raw_body_charset``)."""
        self.ensure_one()
        return body_bytes(self.raw_body, self.raw_body_charset)

    def _pretty_body(self):
        try:
            return json.dumps(json.loads(self.raw_body or ""), indent=2, sort_keys=True)
        except ValueError:
            return self.raw_body


def _stored_value(record, name):
    """The stored value of field ``name`` of ``record`` as ``write`` takes it
    (an id for a many2one), False when empty."""
    field = record._fields[name]
    return field.convert_to_write(record[name], record) or False
