import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL, file_open

from odoo.addons.distribution_connector.adapters.base import DistributionAdapter
from odoo.addons.distribution_connector.adapters.generic_json import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign,
)
from odoo.addons.distribution_connector.errors import TransientError
from odoo.addons.distribution_connector.job_policy import run_job
from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    check_group,
)

from ..flows.common import ORDER_MODEL, parse_datetime
from ..report.distribution_flow_health import HEALTH_WINDOW_DAYS

ORDER_PULL = "order_pull"
#: pulled orders stored per batch before the next ones are fetched
PULL_BATCH = 100

PENDING_STATES = ("received", "processing")
#: queue channels are a handful (see the [queue_job] channels setting)
MAX_QUEUE_CHANNELS = 200


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    auto_confirm = fields.Boolean(
        default=True,
        tracking=True,
        help="Confirm imported orders at once (reserving stock) instead of "
        "leaving them as quotations.",
    )
    pricelist_id = fields.Many2one(
        "product.pricelist",
        check_company=True,
        tracking=True,
        help="Pricelist of imported orders; its currency must be the order's.",
    )
    shipping_product_id = fields.Many2one(
        "product.product",
        check_company=True,
        default=lambda self: self.env.ref(
            "distribution_sync.product_channel_shipping", raise_if_not_found=False
        ),
        help="Service product used for the channel's shipping lines.",
    )
    salesperson_id = fields.Many2one("res.users")
    sales_team_id = fields.Many2one("crm.team", string="Sales team", check_company=True)
    send_fulfillments = fields.Boolean(
        default=True,
        tracking=True,
        help="Tell the channel when a delivery of its orders ships (quantities, "
        "carrier, tracking), when its adapter can.",
    )
    exception_count = fields.Integer(compute="_compute_exception_count")
    exception_sla_hours = fields.Integer(
        string="Exception SLA (hours)",
        default=24,
        tracking=True,
        help="How long an exception of this backend may stay open: older ones "
        "show under the 'Older than SLA' filter of the review queue.",
    )

    def _sends_fulfillments(self):
        """True when fulfillments go out to this backend: wanted, and its
        adapter implements ``export_fulfillment``."""
        self.ensure_one()
        adapter_class = type(self._get_adapter())
        return self.send_fulfillments and (
            adapter_class.export_fulfillment
            is not DistributionAdapter.export_fulfillment
        )

    def _compute_exception_count(self):
        counts = dict(
            self.env["distribution.exception"]._read_group(
                [("backend_id", "in", self.ids), ("state", "=", "open")],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.exception_count = counts.get(backend, 0)

    def action_view_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync.action_distribution_exception"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    # -- reconciliation ------------------------------------------------------
    # Missed orders: per backend, the orders changed since a locked watermark
    # minus the backend's overlap are pulled through its adapter and stored in
    # the inbox like webhooks (insert-or-ignore on an event id made of the
    # order's id and version), then processed by the same job. An order a
    # webhook already brought is found through its binding: never created
    # twice.

    watermark_ids = fields.One2many(
        "distribution.watermark", "backend_id", string="Reconciliation runs"
    )
    settlement_tolerance = fields.Float(
        default=0.01,
        help="Largest difference between a settled amount and the posted "
        "invoices (or credit notes) of its order that still matches.",
    )
    settlement_count = fields.Integer(compute="_compute_settlement_count")

    def _compute_settlement_count(self):
        counts = dict(
            self.env["distribution.settlement"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.settlement_count = counts.get(backend, 0)

    def action_view_settlements(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync.action_distribution_settlement"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    def _pulls_orders(self):
        """True when missed orders are pulled from this backend: wanted, and
        its adapter implements ``pull_orders``."""
        self.ensure_one()
        adapter_class = type(self._get_adapter())
        return self.order_pull_enabled and (
            adapter_class.pull_orders is not DistributionAdapter.pull_orders
        )

    # -- one reconciliation run: cron, button and job --------------------------
    # Every reconciliation flow (order pulls here, stock checks in the stock
    # publishing addon) runs the same way: a scheduled action over the
    # backends it applies to, a button that enqueues a job, and a run under
    # the flow's locked watermark whose failures follow the job policy.

    @api.model
    def _cron_reconcile(self, flow, method_name, applies):
        """Scheduled action of a reconciliation flow: run ``method_name`` on
        every unpaused backend that ``applies(backend)``, the ones waiting
        longest first, committing each backend's run."""
        backends = self.search([("paused", "=", False)]).filtered(applies)
        last_runs = {
            mark.backend_id.id: mark.last_run_at
            for mark in self.env["distribution.watermark"].search(
                [("backend_id", "in", backends.ids), ("flow", "=", flow)]
            )
        }
        lastcall = self.env.context.get("lastcall")
        if lastcall:
            # a run the cron resumes: the backends done since it began are not due
            backends = backends.filtered(
                lambda b: not last_runs.get(b.id) or last_runs[b.id] <= lastcall
            )
        backends = backends.sorted(
            lambda b: last_runs.get(b.id) or fields.Datetime.from_string("1970-01-01")
        )
        return backends._reconcile_batched(method_name)

    def _delay_reconcile(self, job_name, description):
        """Button of a reconciliation flow: enqueue its job ``job_name`` for
        each backend, once (``description`` names the backend as
        ``%(backend)s``)."""
        check_group(self, MANAGER_GROUP)
        for backend in self:
            job = backend.with_delay(
                description=description % {"backend": backend.name},
                identity_key=f"distribution.backend.{job_name.removesuffix('_job')}"
                f":{backend.id}",
            )
            getattr(job, job_name)()
        return True

    def _run_reconcile(self, flow, what, run, failure_message, retry=False):
        """Run one reconciliation of this backend under the flow's watermark,
        locked; the job policy decides what a failure does.

        :param what: the run's name in texts ("pull")
        :param run: ``run(watermark)`` does the work from the locked
            watermark and returns ``(result text, new watermark)``; the run
            and the new watermark are recorded
        :param failure_message: posted on the backend when the run fails,
            with the error as ``%(error)s``
        :param retry: a transient failure retries the job (a job run); else
            it is recorded and the next run asks again (the cron)
        :return: a text saying what happened
        """
        self.ensure_one()
        watermark = self.env["distribution.watermark"].sudo()._lock(self, flow)
        if not watermark:
            return f"skipped: another {what} of this backend is running"

        def succeed():
            result, mark = run(watermark)
            watermark._record_run(result, watermark=mark)
            return result

        def record(err):
            # the watermark does not move: the next run asks again; what was
            # stored meanwhile stays (a later run collapses into it)
            if isinstance(err, TransientError):
                result = f"failed: {err.kind}, retried at the next run"
                watermark._record_run(result)
                return result
            result = f"failed: {err.kind}"
            watermark._record_run(result)
            self.message_post(
                body=failure_message % {"error": self._redact(err.message)}
            )
            return result

        return run_job(
            self.env,
            succeed,
            record,
            redact=self._redact,
            retry=retry,
            what=f"running {flow} of backend {self.id}",
        )

    # -- order pulls -------------------------------------------------------------

    @api.model
    def _cron_pull_orders(self):
        """Scheduled action: pull the missed orders of every backend that can."""
        return self._cron_reconcile(
            ORDER_PULL, "_pull_orders", lambda backend: backend._pulls_orders()
        )

    def action_pull_orders(self):
        """Button: pull the missed orders now, in a job."""
        return self._delay_reconcile(
            "pull_orders_job", "Pull missed orders of %(backend)s"
        )

    @api.private
    def pull_orders_job(self):
        """Job entry point: pull this backend's missed orders; transient
        failures retry the job (nothing stored, the watermark stays)."""
        self.ensure_one()
        return self._pull_orders(retry=True)

    def _pull_orders(self, retry=False):
        """Pull, store and enqueue the orders changed since the watermark.

        :return: a text saying what happened
        """
        self.ensure_one()
        if not self._pulls_orders():
            return "nothing to do: this backend does not pull orders"
        return self._run_reconcile(
            ORDER_PULL,
            "pull",
            self._pull_orders_run,
            self.env._("Pulling missed orders failed: %(error)s"),
            retry=retry,
        )

    def _pull_orders_run(self, watermark):
        started = fields.Datetime.now()
        since = (watermark.watermark or self.create_date) - timedelta(
            minutes=self.order_pull_overlap_minutes
        )
        adapter = self._get_adapter()
        counts = {"pulled": 0, "new": 0, "known": 0}
        batch = []
        for item in adapter.pull_orders(since):
            batch.append(item)
            if len(batch) >= PULL_BATCH:
                self._store_pulled(adapter, batch, counts)
                batch = []
        self._store_pulled(adapter, batch, counts)
        result = (
            f"{counts['pulled']} orders pulled, {counts['new']} new, "
            f"{counts['known']} already imported"
        )
        return result, started

    def _store_pulled(self, adapter, items, counts):
        """Store pulled orders in the inbox; the dispatcher enqueues the new ones."""
        exchanges = self.env["distribution.exchange"].sudo()
        for item in items:
            topic = item["topic"]
            kind = adapter.canonical_kind(topic) or "order"
            counts["pulled"] += 1
            if self._pulled_order_known(adapter, kind, item):
                counts["known"] += 1
                continue
            body = json.dumps(item["payload"], sort_keys=True).encode()
            _exchange, created = exchanges._insert_inbound(
                self,
                topic,
                kind,
                item["event_id"],
                item.get("external_ref"),
                body,
                "application/json",
                {"x-distribution-source": ORDER_PULL},
            )
            if created:
                # processed like a webhook's: the insert woke the dispatcher
                counts["new"] += 1

    def _pulled_order_known(self, adapter, kind, item):
        """True when the order was imported at this version or a newer one
        (its webhook came): storing it again would only add a no-op."""
        if kind != "order":
            return False
        try:
            canonical = adapter.to_canonical(kind, item["payload"])
            external_id = str(canonical["external_id"])
            updated_at = parse_datetime(canonical.get("updated_at"))
        except Exception:  # a malformed order is stored: its job reports it
            return False
        if not updated_at:
            return False
        binding = (
            self.env["distribution.binding"]
            .sudo()
            ._find(self, ORDER_MODEL, external_id)
        )
        return bool(
            binding
            and binding.external_updated_at
            and updated_at <= binding.external_updated_at
        )

    # -- health ------------------------------------------------------------------
    # The health of a backend, for its dashboard card and Health screen.
    #
    # Figures are computed on read with one query each, over the last
    # ``HEALTH_WINDOW_DAYS`` days for the rates, latencies and duplicates;
    # the backlog, the open exceptions and the last successful sync are
    # current.

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
                WHERE backend_id IN %s
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
                WHERE backend_id IN %s AND received_at >= %s
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
            [("company_id", "in", self.company_id.ids)], limit=MAX_QUEUE_CHANNELS
        )
        for backend in self:
            backend.health_queue_backlog_ids = backlog.filtered(
                lambda row, company=backend.company_id: row.company_id == company
            )

    # -- buttons: the lists behind the figures ----------------------------------

    def _exchange_action(self, domain, name):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_exchange"
        )
        action.update(
            name=name,
            domain=[("backend_id", "=", self.id), *domain],
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

    # -- order import hooks -------------------------------------------------------

    def _prepare_order_vals(self, data, vals):
        """The values the sales order of the canonical order ``data``
        (``schemas/order.json``) is created with. ``vals`` holds what the
        order import computed (customer and addresses, lines, pricelist,
        warehouse, dates, sales team); return them, changed or completed.

        Extend with ``_inherit = "distribution.backend"`` (check
        ``self.adapter`` for one channel); runs as superuser in the
        backend's company."""
        self.ensure_one()
        return vals

    def _prepare_line_vals(self, line, vals):
        """The values a sales order line is made with from the canonical
        order line ``line`` (a product line; shipping lines are not passed),
        when the order is created and when a quotation's lines are replaced
        by a newer version. ``vals`` holds what the order import computed
        (product, quantity, price, discount, taxes); return them, changed or
        completed. Extend as ``_prepare_order_vals``."""
        self.ensure_one()
        return vals

    # -- demo data ----------------------------------------------------------------
    # Demo events are delivered the way a channel delivers them (signed, to
    # the webhook's checks and the inbox) and processed by the flows: the
    # demo's orders, exchanges and exceptions are what the product made of
    # them. Files: ``<addon>/demo/*_deliveries.json``, groups of deliveries
    # ``{"topic", "event_id", "payload" (or a raw "body"), "process" (default
    # true), "ignore" (a reason: its exceptions are ignored, as a user does)}``.

    @api.model
    def _demo_read_deliveries(self, path):
        with file_open(path, "rb") as handle:
            return json.load(handle)

    def _demo_send(self, deliveries, headers_for):
        """Deliver each delivery to this backend (``_demo_deliver``);
        ``headers_for(delivery, body)`` gives the headers its sender sends.

        :return: the exchanges, in the order of the deliveries
        """
        self.ensure_one()
        exchanges = self.env["distribution.exchange"]
        for delivery in deliveries:
            if "body" in delivery:
                body = delivery["body"].encode()
            else:
                body = json.dumps(delivery["payload"], indent=2).encode()
            exchange = self._demo_deliver(
                # a URL's last segment holds no slash: Shopify's are dashed
                delivery["topic"].replace("/", "-"),
                headers_for(delivery, body),
                body,
                process=delivery.get("process", True),
            )
            if delivery.get("ignore"):
                exchange.exception_ids._ignore(delivery["ignore"])
            exchanges |= exchange
        return exchanges

    def _demo_generic_headers(self, delivery, body):
        """What a sender of canonical JSON sends (generic JSON adapter)."""
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._webhook_secrets()[0], body),
            EVENT_ID_HEADER: delivery["event_id"],
        }

    def _demo_load_webshop(self):
        """The demo web shop's events: orders (one delivered twice, one
        cancelled), failures of several kinds, two orders left for the
        dispatcher, then its payout once two orders are invoiced; the shop
        is paused at the end, so that nothing goes out to it."""
        self.ensure_one()
        data = self._demo_read_deliveries(
            "distribution_sync/demo/webshop_deliveries.json"
        )
        self._demo_send(data["orders"], self._demo_generic_headers)
        orders = self.env[ORDER_MODEL].search(
            [
                ("distribution_backend_id", "=", self.id),
                ("distribution_external_id", "in", ("WS-1001", "WS-1002")),
            ]
        )
        invoices = orders._create_invoices()
        invoices.action_post()
        self._demo_send(data["settlements"], self._demo_generic_headers)
        self.action_pause()
