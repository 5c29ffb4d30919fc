import json
import logging
import time
import uuid
from collections import defaultdict
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.tools import SQL

from odoo.addons.distribution_connector.errors import (
    DistributionError,
    PermanentError,
    TransientError,
)
from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    check_group,
)
from odoo.addons.queue_job.exception import RetryableJobError

from ..engine import StockPublishEngine

_logger = logging.getLogger(__name__)

STATES = [
    ("dirty", "Dirty"),
    ("clean", "Clean"),
    ("exporting", "Exporting"),
    ("error", "Error"),
]

#: identity key of the debounced sweep job: one pending sweep at a time
SWEEP_IDENTITY = "distribution.stock.sweep"
#: transaction advisory lock held by the running sweep (cron or job)
SWEEP_LOCK = 0x64697374726962  # "distrib"
#: products recomputed per engine call during a sweep
SWEEP_BATCH = 20000
#: a sweep hands over to a new job after this many seconds
SWEEP_TIME_BUDGET = 240
#: an exporting level whose job vanished is exported again after this delay
STALE_EXPORT = timedelta(hours=1)
#: products whose stock changed in the current transaction, to mark dirty
PENDING_KEY = "distribution_stock_publish.pending"


class DistributionStockLevel(models.Model):
    """What one channel may sell of one product, and why.

    ``computed_qty`` is what the rule stack allows now, ``published_qty``
    what the channel confirmed last. States: *dirty* (stock or rule changed,
    to recompute), *clean* (computed; exported when it differs from the
    published number), *exporting* (an export job holds it), *error* (the
    last export failed; see ``error``).
    """

    _name = "distribution.stock.level"
    _description = "Stock level published to a channel"
    _order = "backend_id, product_id"

    product_id = fields.Many2one(
        "product.product", required=True, ondelete="cascade", index=True, readonly=True
    )
    # backend_id is indexed by the unique (backend_id, product_id); rules
    # and backends go one to one, and company ids are not selective: fewer
    # indexes keep the bulk writes cheap
    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", readonly=True
    )
    rule_id = fields.Many2one(
        "distribution.publish.rule", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    computed_qty = fields.Float(
        string="Computed", readonly=True, help="What the rules allow now."
    )
    pool_qty = fields.Float(
        string="Pool", readonly=True, help="The basis quantity over the sources."
    )
    published_qty = fields.Float(
        string="Published",
        readonly=True,
        help="What the channel confirmed last (empty: never published).",
    )
    explanation = fields.Json(
        string="Explanation (data)",
        readonly=True,
        help="The rule steps, in order, with their values.",
    )
    explanation_html = fields.Html(
        string="Why this number", compute="_compute_explanation_html", sanitize=False
    )
    explanation_summary = fields.Char(string="Why", compute="_compute_explanation_html")
    state = fields.Selection(STATES, required=True, default="dirty", readonly=True)
    computed_at = fields.Datetime(readonly=True)
    published_at = fields.Datetime(readonly=True)
    external_ref = fields.Char(
        string="External reference",
        help="The channel's own id of the product, when it has one.",
    )
    error = fields.Text(readonly=True)
    shadow_mode = fields.Boolean(related="rule_id.shadow_mode")
    differs = fields.Boolean(
        string="Published differs",
        compute="_compute_differs",
        store=True,
        readonly=True,
        help="The computed quantity is not the published one (or nothing was "
        "published yet). Kept by the engine's bulk writes too.",
    )

    _backend_product_unique = models.Constraint(
        "UNIQUE(backend_id, product_id)",
        "A product has one stock level per channel.",
    )
    _dirty_idx = models.Index("(product_id) WHERE state = 'dirty'")
    # a stored flag rather than "computed_qty IS DISTINCT FROM published_qty":
    # PostgreSQL estimates a boolean, so it picks these small indexes
    _to_export_idx = models.Index("(backend_id) WHERE state = 'clean' AND differs")
    _exporting_idx = models.Index("(write_date) WHERE state = 'exporting'")

    @api.depends("backend_id", "product_id")
    def _compute_display_name(self):
        for level in self:
            level.display_name = (
                f"{level.backend_id.name or ''} / {level.product_id.display_name or ''}"
            )

    @api.depends("computed_qty", "published_qty", "published_at")
    def _compute_differs(self):
        for level in self:
            level.differs = (
                not level.published_at or level.computed_qty != level.published_qty
            )

    @api.depends("explanation")
    def _compute_explanation_html(self):
        for level in self:
            steps = level.explanation or []
            level.explanation_html = self._explanation_html(steps)
            level.explanation_summary = " → ".join(
                f"{step.get('step')} {step.get('qty')}" for step in steps
            )

    # -- explanation rendering ------------------------------------------------

    @api.model
    def _describe_step(self, step):
        """One step of an explanation, in words."""
        kind = step.get("step")
        if kind == "pool":
            if step.get("archived"):
                return self.env._("Product archived: nothing to sell")
            basis = step.get("basis")
            if basis == "free":
                detail = self.env._(
                    "free = on hand %(on_hand)s - reserved %(reserved)s",
                    on_hand=step.get("on_hand", 0),
                    reserved=step.get("reserved", 0),
                )
            elif basis == "forecast":
                detail = self.env._(
                    "forecast = on hand %(on_hand)s + incoming %(incoming)s - "
                    "outgoing %(outgoing)s",
                    on_hand=step.get("on_hand", 0),
                    incoming=step.get("incoming", 0),
                    outgoing=step.get("outgoing", 0),
                )
            else:
                detail = self.env._("on hand")
            return self.env._(
                "Pool in %(sources)s: %(detail)s",
                sources=step.get("sources") or self.env._("no source"),
                detail=detail,
            )
        if kind == "safety":
            source = step.get("source")
            if source == "product":
                origin = self.env._("product override")
            elif source == "category":
                category = self.env["product.category"].browse(step.get("source_id"))
                origin = self.env._(
                    "override of category %(name)s",
                    name=category.exists().display_name or step.get("source_id"),
                )
            else:
                origin = self.env._("rule")
            return self.env._(
                "Safety stock - %(units)s (%(fixed)s units + %(percent)s %% of the "
                "pool, %(origin)s)",
                units=step.get("units"),
                fixed=step.get("fixed"),
                percent=step.get("percent"),
                origin=origin,
            )
        if kind == "allocation":
            if step.get("mode") == "partition":
                text = self.env._(
                    "Hard partition: share %(share)s %% of the available stock "
                    "(%(percent)s %% asked, %(channels)s channels)",
                    share=step.get("share"),
                    percent=step.get("percent"),
                    channels=step.get("channels"),
                )
                if step.get("rounding"):
                    text += self.env._(", +1 rounding unit by priority")
                return text
            return self.env._(
                "Shared pool: %(percent)s %%", percent=step.get("percent")
            )
        if kind == "floor":
            return self.env._(
                "Floor: at least %(floor)s if available", floor=step.get("floor")
            )
        if kind == "cap":
            return self.env._("Cap: at most %(cap)s", cap=step.get("cap"))
        if kind == "threshold":
            return self.env._(
                "Out of stock below %(threshold)s", threshold=step.get("threshold")
            )
        if kind == "pack":
            return self.env._(
                "Rounded down to packs of %(pack)s", pack=step.get("pack_size")
            )
        return str(kind)

    @api.model
    def _explanation_html(self, steps):
        if not steps:
            return False
        rows = Markup("").join(
            Markup("<tr><td>%s</td><td class='text-end'>%s</td></tr>")
            % (self._describe_step(step), step.get("qty"))
            for step in steps
        )
        return (
            Markup(
                "<table class='table table-sm o_distribution_explanation'>"
                "<tbody>%s</tbody></table>"
            )
            % rows
        )

    # -- engine ------------------------------------------------------------------

    @api.model
    def _stock_publish_engine(self):
        """The engine; override to return a subclass."""
        return StockPublishEngine(self.env)

    # -- dirty tracking ------------------------------------------------------------

    @api.model
    def _mark_products_dirty(self, product_ids):
        """Stock of these products changed: their levels are to recompute.

        The products are collected during the transaction and marked by
        :meth:`_flush_dirty_marks` just before it commits (or earlier, when
        the engine or a sweep runs in the same transaction): one statement
        per transaction, however many quants a picking touches, and marks
        rolled back with a savepoint only cost a useless recompute.
        """
        if not product_ids:
            return
        data = self.env.cr.precommit.data
        pending = data.get(PENDING_KEY)
        if pending is None:
            pending = data[PENDING_KEY] = set()
            self.env.cr.precommit.add(self._flush_dirty_marks)
        pending.update(product_ids)

    @api.model
    def _flush_dirty_marks(self):
        """Mark the levels of the collected products dirty, now.

        Creates the missing levels, marks every level of the products dirty
        in one statement and enqueues the debounced sweep. Deliberately no
        ``state <> 'dirty'`` filter: a transaction whose snapshot still shows
        a level dirty (a sweep cleaned it meanwhile) must write the row, so
        that PostgreSQL detects the conflict instead of the change being lost.
        """
        pending = self.env.cr.precommit.data.pop(PENDING_KEY, None)
        if not pending:
            return
        self.env.flush_all()
        if not self._publishing_active():
            return
        ids = sorted(pending)
        # new levels dirty: the sweep computes them with the others
        self._stock_publish_engine().ensure_levels(product_ids=ids, compute=False)
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level
                SET state = 'dirty'
                WHERE product_id = ANY(%s)
                  AND rule_id IN (SELECT id FROM distribution_publish_rule
                                  WHERE active)
                """,
                ids,
            )
        )
        self.invalidate_model(["state"])
        self._enqueue_sweep()

    @api.model
    def _mark_rules_dirty(self, rule_ids, product_ids=None):
        """Rules changed: their levels (of ``product_ids`` only, when given)
        become dirty; the levels they lacked are created, computed."""
        rule_ids = list(rule_ids)
        if not rule_ids:
            return
        self.env.flush_all()
        restrict = (
            SQL("AND product_id = ANY(%s)", list(product_ids))
            if product_ids is not None
            else SQL()
        )
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level SET state = 'dirty'
                WHERE rule_id = ANY(%s) %s
                  AND rule_id IN (SELECT id FROM distribution_publish_rule
                                  WHERE active)
                """,
                rule_ids,
                restrict,
            )
        )
        self.invalidate_model(["state"])
        rules = self.env["distribution.publish.rule"].sudo().browse(rule_ids)
        rules = rules.filtered("active")
        if rules:
            engine = self._stock_publish_engine()
            engine.ensure_levels(engine.load_rules(rules), product_ids=product_ids)
        self._enqueue_sweep()

    @api.model
    def _publishing_active(self):
        self.env.cr.execute(
            SQL("SELECT 1 FROM distribution_publish_rule WHERE active LIMIT 1")
        )
        return bool(self.env.cr.fetchone())

    @api.model
    def _sweep_delay(self):
        """Seconds the sweep waits, so that a burst of changes is swept once."""
        param = self.env["ir.config_parameter"].sudo()
        return int(param.get_param("distribution_stock_publish.sweep_delay", 5))

    @api.model
    def _enqueue_sweep(self, delay=None):
        """Enqueue the sweep unless one is pending (identity key)."""
        self.with_user(SUPERUSER_ID).with_delay(
            eta=self._sweep_delay() if delay is None else delay,
            identity_key=SWEEP_IDENTITY,
            description="Recompute dirty stock levels",
        ).sweep()

    # -- sweep ------------------------------------------------------------------------

    @api.model
    def _cron_sweep(self):
        return self.sweep()

    @api.private
    @api.model
    def sweep(self):
        """Job and cron entry point: recompute the dirty levels in batches,
        then export what changed.

        One sweep at a time (transaction advisory lock); a sweep that runs out
        of its time budget hands the rest over to a new job.
        """
        self = self.sudo()
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s)", SWEEP_LOCK))
        if not cr.fetchone()[0]:
            if self.env.context.get("job_uuid"):
                raise RetryableJobError(
                    "Another sweep is running.", seconds=30, ignore_retry=True
                )
            return "nothing to do: another sweep is running"
        self._flush_dirty_marks()
        self._reset_stale_exports()
        engine = self._stock_publish_engine()
        specs = engine.load_rules()
        started = time.monotonic()
        products = written = 0
        more = False
        rule_ids = [spec.id for spec in specs]
        while specs:
            product_ids = self._dirty_product_ids(SWEEP_BATCH, rule_ids)
            if not product_ids:
                break
            stats = engine.recompute(product_ids=product_ids, specs=specs)
            products += len(product_ids)
            written += stats["written"]
            if not stats["written"]:
                break  # nothing cleaned: never loop on the same products
            if time.monotonic() - started > SWEEP_TIME_BUDGET:
                more = bool(self._dirty_product_ids(1, rule_ids))
                break
        jobs = self._enqueue_exports()
        if more:
            self._enqueue_sweep(delay=0)
        return (
            f"{products} products recomputed, {written} levels written, "
            f"{jobs} export jobs{', more to sweep' if more else ''}"
        )

    @api.model
    def _dirty_product_ids(self, limit, rule_ids):
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT product_id
                FROM distribution_stock_level
                WHERE state = 'dirty' AND rule_id = ANY(%s)
                ORDER BY product_id
                LIMIT %s
                """,
                rule_ids,
                limit,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _reset_stale_exports(self):
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level SET state = 'clean'
                WHERE state = 'exporting' AND write_date < %s
                """,
                fields.Datetime.now() - STALE_EXPORT,
            )
        )
        if self.env.cr.rowcount:
            self.invalidate_model(["state"])

    # -- export -----------------------------------------------------------------------

    @api.model
    def _enqueue_exports(self, level_ids=None, force=False):
        """Hand the levels to export over to export jobs; return the job count.

        Default: every clean level whose computed quantity differs from the
        published one. With ``force``, the given levels (clean or in error)
        go out whatever their numbers. Shadow rules, archived rules and paused
        or archived backends export nothing. Jobs carry level ids only, at
        most the adapter's ``max_batch_size`` each.
        """
        if level_ids is not None and not level_ids:
            return 0
        self.env.flush_all()
        if force:
            which = SQL(
                "l.id = ANY(%s) AND l.state IN ('clean', 'error')", list(level_ids)
            )
        else:
            which = SQL("l.state = 'clean' AND l.differs")
            if level_ids is not None:
                which = SQL("%s AND l.id = ANY(%s)", which, list(level_ids))
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level l
                SET state = 'exporting', error = NULL,
                    write_date = now() AT TIME ZONE 'UTC'
                FROM distribution_publish_rule r, distribution_backend b
                WHERE r.id = l.rule_id AND b.id = l.backend_id
                  AND r.active AND NOT COALESCE(r.shadow_mode, FALSE)
                  AND b.active AND NOT COALESCE(b.paused, FALSE)
                  AND %s
                RETURNING l.id, l.backend_id
                """,
                which,
            )
        )
        by_backend = defaultdict(list)
        for level_id, backend_id in self.env.cr.fetchall():
            by_backend[backend_id].append(level_id)
        self.invalidate_model(["state", "error", "write_date"])
        jobs = 0
        for backend_id, ids in by_backend.items():
            backend = self.env["distribution.backend"].sudo().browse(backend_id)
            size = max(1, backend._get_adapter().max_batch_size)
            ids.sort()
            for start in range(0, len(ids), size):
                batch = ids[start : start + size]
                self.browse(batch).with_user(backend.job_user_id).with_delay(
                    description=f"Publish {len(batch)} stock levels to {backend.name}",
                ).export_batch()
                jobs += 1
        return jobs

    @api.private
    def export_batch(self):
        """Job entry point: send these levels' quantities to their channel.

        Relevance first: only levels still *exporting* are sent, locked so
        that two jobs never send the same level. The published quantity is
        written only for the items the channel confirmed. A compare-and-set
        mismatch is retried once with the channel's number; rate limiting and
        transient failures retry the job (nothing recorded, the attempt rolls
        back, the call's exchange survives); permanent failures put the levels
        in error and the job ends cleanly.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM distribution_stock_level
                WHERE id = ANY(%s) AND state = 'exporting'
                ORDER BY id
                FOR NO KEY UPDATE SKIP LOCKED
                """,
                self.ids,
            )
        )
        levels = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        if not levels:
            return "nothing to do: no level waits for export"
        results = [
            levels.filtered(lambda lv, b=backend: lv.backend_id == b)._export(backend)
            for backend in levels.backend_id
        ]
        return "; ".join(results)

    def _export(self, backend):
        """Export levels of one backend; return the job's result text."""
        rule = self.rule_id[:1]
        if backend.paused or not backend.active or not rule.active or rule.shadow_mode:
            self._write_states("clean")
            return (
                f"nothing to do: {backend.name} is paused, archived or in shadow mode"
            )
        batch, missing = [], self.browse()
        for level in self:
            sku = level.product_id.default_code
            if not (sku or level.external_ref):
                missing |= level
                continue
            batch.append(
                (
                    level,
                    {
                        "sku": sku or None,
                        "external_ref": level.external_ref or None,
                        "quantity": _plain(level.computed_qty),
                        "compare_quantity": (
                            _plain(level.published_qty) if level.published_at else None
                        ),
                    },
                )
            )
        no_sku = self.env._("The product has no internal reference (SKU).")
        missing._record_errors(dict.fromkeys(missing.ids, no_sku))
        if not batch:
            return f"failed: {len(missing)} levels without SKU"
        adapter = backend._get_adapter()
        try:
            confirmed, failed, pending = self._send(backend, adapter, batch)
        except TransientError as err:
            message = backend._redact(err.message)
            if self._is_last_attempt():
                self._record_errors(dict.fromkeys(self.ids, message))
                return f"failed: {err.kind}, retries exhausted"
            # RateLimitedError carries the channel's delay; other transient
            # errors follow the job function's retry pattern
            raise RetryableJobError(message, seconds=err.retry_after) from err
        except DistributionError as err:
            self._record_errors(dict.fromkeys(self.ids, backend._redact(err.message)))
            return f"failed: {err.kind}"
        except psycopg2.Error:
            # lock contention, serialization: the runner retries the job
            raise
        except Exception as err:
            _logger.exception("Unexpected error exporting stock to %s", backend.name)
            self._record_errors(
                dict.fromkeys(self.ids, backend._redact(f"{type(err).__name__}: {err}"))
            )
            return "failed: internal"
        self._record_published(confirmed)
        self._record_errors(failed)
        if pending:
            # the first call confirmed some items: keep them, retry the rest
            self.browse(list(pending)).with_delay(
                eta=pending_delay(pending), description="Publish stock levels again"
            ).export_batch()
        return (
            f"{len(confirmed)} published, {len(failed) + len(missing)} failed"
            f"{f', {len(pending)} postponed' if pending else ''}"
        )

    def _send(self, backend, adapter, batch):
        """Call the adapter, retrying compare-and-set mismatches once.

        :return: ({level id: quantity confirmed}, {level id: error message},
            {level id: seconds to wait} of items to send again later)
        """
        confirmed, failed, pending = {}, {}, {}
        results = self._call_adapter(backend, adapter, batch)
        retry = []
        for (level, item), result in zip(batch, results, strict=True):
            if result["status"] == "ok":
                confirmed[level.id] = item["quantity"]
            elif result["status"] == "mismatch":
                retry.append(
                    (level, dict(item, compare_quantity=result["actual_quantity"]))
                )
            else:
                failed[level.id] = result.get("message") or self.env._(
                    "The channel refused the quantity."
                )
        if not retry:
            return confirmed, failed, pending
        try:
            results = self._call_adapter(backend, adapter, retry)
        except TransientError as err:
            if not confirmed:
                raise
            for level, _item in retry:
                pending[level.id] = err.retry_after or 60
            return confirmed, failed, pending
        for (level, item), result in zip(retry, results, strict=True):
            if result["status"] == "ok":
                confirmed[level.id] = item["quantity"]
            elif result["status"] == "mismatch":
                failed[level.id] = self.env._(
                    "The channel's quantity moved again (now %(actual)s); "
                    "not overwritten.",
                    actual=result.get("actual_quantity"),
                )
            else:
                failed[level.id] = result.get("message") or self.env._(
                    "The channel refused the quantity."
                )
        return confirmed, failed, pending

    def _call_adapter(self, backend, adapter, batch):
        """One export call, logged as an outbound exchange; checked results."""
        items = [item for _level, item in batch]
        started = time.monotonic()
        try:
            results = _checked_results(items, adapter.export_stock(items))
        except DistributionError as err:
            self._log_export(backend, items, None, err, started)
            raise
        self._log_export(backend, items, results, None, started)
        return results

    def _log_export(self, backend, items, results, error, started):
        """The export call as an outbound exchange, in its own transaction so
        that it survives a job attempt that rolls back."""
        failures = [r for r in results or () if r["status"] == "error"]
        if error is not None:
            message = backend._redact(error.message)
        elif failures:
            message = "; ".join(
                f"{r['sku']}: {r.get('message') or 'error'}" for r in failures[:20]
            )
        else:
            message = False
        values = {
            "backend_id": backend.id,
            "direction": "out",
            "topic": "stock",
            "kind": "stock export",
            "external_event_id": uuid.uuid4().hex,
            "content_type": "application/json",
            "raw_body": backend._redact(json.dumps({"items": items})),
            "response_body": (
                backend._redact(json.dumps({"results": results}))
                if results is not None
                else False
            ),
            "state": "error" if message else "done",
            "error": message,
            "duration_ms": int((time.monotonic() - started) * 1000),
            "attempts": 1,
            # a record of a call, like the HTTP client's: never processed by
            # the inbox nor retried from it (Publish now retries a level)
            "call_log": True,
        }
        try:
            with self.env.registry.cursor() as cr:
                env = self.env(cr=cr, su=True)
                env["distribution.exchange"].create(
                    {**values, "processed_at": fields.Datetime.now()}
                )
        except Exception:
            _logger.exception("Could not log a stock export of %s", backend.name)

    def _is_last_attempt(self):
        job_uuid = self.env.context.get("job_uuid")
        if not job_uuid:
            return False
        job = self.env["queue.job"].sudo().search([("uuid", "=", job_uuid)], limit=1)
        return bool(job.max_retries) and job.retry + 1 >= job.max_retries

    def _write_states(self, state):
        if not self:
            return
        self.env.cr.execute(
            SQL(
                "UPDATE distribution_stock_level SET state = %s, "
                "write_date = now() AT TIME ZONE 'UTC' WHERE id = ANY(%s)",
                state,
                self.ids,
            )
        )
        self.invalidate_model(["state", "write_date"])

    def _record_published(self, confirmed):
        """Quantities the channel confirmed: {level id: quantity}."""
        if not confirmed:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level l
                SET published_qty = v.qty,
                    published_at = now() AT TIME ZONE 'UTC',
                    differs = l.computed_qty IS DISTINCT FROM v.qty,
                    state = CASE WHEN l.state = 'exporting'
                                 THEN 'clean' ELSE l.state END,
                    error = NULL,
                    write_date = now() AT TIME ZONE 'UTC'
                FROM unnest(%s::int[], %s::float8[]) AS v(id, qty)
                WHERE l.id = v.id
                """,
                list(confirmed),
                list(confirmed.values()),
            )
        )
        self.invalidate_model(
            ["published_qty", "published_at", "differs", "state", "error", "write_date"]
        )

    def _record_errors(self, errors):
        """Failed exports: {level id: message}; the levels go in error."""
        if not errors:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level l
                SET state = 'error', error = v.message,
                    write_date = now() AT TIME ZONE 'UTC'
                FROM unnest(%s::int[], %s::text[]) AS v(id, message)
                WHERE l.id = v.id
                """,
                list(errors),
                [str(message) for message in errors.values()],
            )
        )
        self.invalidate_model(["state", "error", "write_date"])

    # -- user actions -----------------------------------------------------------------

    def action_recompute_now(self):
        """Recompute the selected levels now, then export what changed."""
        check_group(self, MANAGER_GROUP)
        levels = self.sudo()
        engine = self._stock_publish_engine()
        stats = engine.recompute(level_ids=levels.ids)
        jobs = self._enqueue_exports(level_ids=levels.ids)
        return _notify(
            self.env._(
                "%(levels)s levels recomputed, %(written)s changed, "
                "%(jobs)s export jobs queued.",
                levels=stats["levels"],
                written=stats["written"],
                jobs=jobs,
            )
        )

    def action_publish_now(self):
        """Send the selected levels to their channels now, even unchanged."""
        check_group(self, MANAGER_GROUP)
        levels = self.sudo()
        dirty = levels.filtered(lambda level: level.state == "dirty")
        if dirty:
            self._stock_publish_engine().recompute(level_ids=dirty.ids)
        jobs = self._enqueue_exports(level_ids=levels.ids, force=True)
        return _notify(
            self.env._("%(jobs)s export jobs queued.", jobs=jobs),
        )


def _plain(qty):
    """A quantity as an int when it is whole (channels count units)."""
    return int(qty) if qty == int(qty) else qty


def pending_delay(pending):
    return max(pending.values())


def _checked_results(items, results):
    """The adapter's answer, checked against the contract of
    ``DistributionAdapter.export_stock``."""
    if not isinstance(results, list | tuple) or len(results) != len(items):
        raise PermanentError(
            "The adapter answered a stock export with a malformed result list.",
            kind="invalid_response",
        )
    checked = []
    for item, result in zip(items, results, strict=True):
        if not isinstance(result, dict) or result.get("status") not in (
            "ok",
            "mismatch",
            "error",
        ):
            raise PermanentError(
                f"Malformed export result for SKU {item['sku']}.",
                kind="invalid_response",
            )
        actual = result.get("actual_quantity")
        if result["status"] == "mismatch" and not isinstance(actual, int | float):
            raise PermanentError(
                f"A mismatch for SKU {item['sku']} without the channel's quantity.",
                kind="invalid_response",
            )
        checked.append(
            {
                "sku": item["sku"],
                "status": result["status"],
                "actual_quantity": actual,
                "message": str(result.get("message") or ""),
            }
        )
    return checked


def _notify(message):
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {
            "message": message,
            "type": "info",
            "sticky": False,
            "next": {"type": "ir.actions.client", "tag": "soft_reload"},
        },
    }
