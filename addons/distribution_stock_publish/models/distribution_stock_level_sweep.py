import time
from collections import defaultdict

import psycopg2.errors

from odoo import SUPERUSER_ID, api, models
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

# the products to recompute (stock or rule changed): insert-only, so that
# concurrent transactions add rows and never conflict; the sweep takes them
from .distribution_stock_level import MARK_TABLE

#: identity key of the debounced sweep job: one pending sweep at a time
SWEEP_IDENTITY = "distribution.stock.sweep"
#: transaction advisory lock held by the running sweep (cron or job)
SWEEP_LOCK = 0x64697374726962  # "distrib"
#: products recomputed per engine call during a sweep: the time budget
#: below is checked between calls, so one call must stay short, while a few
#: calls sweep a whole catalog (five for 100,000 products)
SWEEP_BATCH = 20000
#: a sweep hands over to a new job after this many seconds
SWEEP_TIME_BUDGET = 240
#: products whose stock changed in the current transaction, to mark dirty
PENDING_KEY = "distribution_stock_publish.pending"
#: queue_job priority of the sweep and export jobs (queue_job's default is
#: 10, lower runs first): the runner gives a free slot to them before the
#: imports queued earlier, so that a burst of orders does not hold back the
#: stock it sells until the whole burst is imported (both are short)
PUBLISH_PRIORITY = 5
#: seconds before a sweep job that met a concurrent update runs again (the
#: stock channel's throttle, odoo.conf.example, may hold it a little longer)
SWEEP_RETRY_DELAY = 1
#: what a concurrent transaction's update makes a sweep's write fail with
CONCURRENT_UPDATE = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
)


class DistributionStockLevel(models.Model):
    """Dirty marks and the sweep: a stock or rule change marks its products
    once per transaction, in the mark table; the sweep (a debounced job and a
    cron) recomputes them in batches, writes the levels whose numbers changed
    and hands them over to export."""

    # one file per stage of the stock level, by design
    _inherit = "distribution.stock.level"  # pylint: disable=consider-merging-classes-inherited

    def init(self):
        result = super().init()
        # insert-only: concurrent transactions add rows and never conflict;
        # marked_at (when the mark is written, like a level's computed_at)
        # tells which levels were computed since
        table = SQL.identifier(MARK_TABLE)
        self.env.cr.execute(
            SQL("CREATE TABLE IF NOT EXISTS %s (product_id integer NOT NULL)", table)
        )
        self.env.cr.execute(
            SQL(
                "ALTER TABLE %s ADD COLUMN IF NOT EXISTS marked_at timestamp "
                "NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'UTC')",
                table,
            )
        )
        return result

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
        """Record the collected products as to recompute, now.

        Creates their missing levels, adds the products to the insert-only
        mark table in one statement and enqueues the debounced sweep. The
        levels' rows are not written: concurrent transactions (imports of
        orders for the same products) never conflict on them, a picking does
        not wait for a level a sweep or an export holds, and the sweep writes
        only the levels whose numbers changed.
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
        self._record_marks(ids)
        self._enqueue_sweep()

    @api.model
    def _record_marks(self, product_ids):
        """Add products to the mark table: the next sweep recomputes them."""
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (product_id) SELECT unnest(%s::int[])",
                SQL.identifier(MARK_TABLE),
                list(product_ids),
            )
        )
        self.invalidate_model(["to_recompute"])

    @api.model
    def _take_marks(self, rule_ids):
        """Ids of the products to recompute, sorted: the marked ones (the
        marks this transaction sees are deleted; those committed meanwhile
        stay for the next sweep, which their transaction enqueued), and
        those with a dirty level of ``rule_ids``."""
        self.env.cr.execute(
            SQL("DELETE FROM %s RETURNING product_id", SQL.identifier(MARK_TABLE))
        )
        marked = {row[0] for row in self.env.cr.fetchall()}
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT product_id FROM distribution_stock_level "
                "WHERE state = 'dirty' AND rule_id = ANY(%s)",
                list(rule_ids),
            )
        )
        self.invalidate_model(["to_recompute"])
        return sorted(marked.union(row[0] for row in self.env.cr.fetchall()))

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
        self.invalidate_model(["state", "to_recompute"])
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
        """Seconds the sweep waits after the first change, so that the changes
        committed together (a dispatcher's batch and the imports running
        with it) are swept once. Under a steady flow of changes, the stock
        channel's throttle (odoo.conf.example) spaces the sweeps out."""
        param = self.env["ir.config_parameter"].sudo()
        return int(param.get_param("distribution_stock_publish.sweep_delay", 1))

    @api.model
    def _enqueue_sweep(self, delay=None):
        """Enqueue the sweep unless one is pending (identity key)."""
        self.with_user(SUPERUSER_ID).with_delay(
            eta=self._sweep_delay() if delay is None else delay,
            priority=PUBLISH_PRIORITY,
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
        of its time budget hands the rest over to a new job. A sweep job that
        meets a concurrent update of the levels it writes (an import that
        marked them meanwhile) is run again ``SWEEP_RETRY_DELAY`` seconds
        later, rather than after queue_job's delay for database conflicts
        (5 s, counted as a retry): the stock it publishes waits no longer
        than needed.
        """
        if not self.env.context.get("job_uuid"):
            return self._sweep()
        try:
            with self.env.cr.savepoint(flush=False):
                return self._sweep()
        except CONCURRENT_UPDATE as err:
            raise RetryableJobError(
                "The stock levels changed meanwhile: swept again.",
                seconds=SWEEP_RETRY_DELAY,
                ignore_retry=True,
            ) from err

    @api.model
    def _sweep(self):
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
        # channel orders received since the last dispatch count at once
        self.env["distribution.exchange"]._store_pending_backlog_lines()
        self._flush_dirty_marks()
        self._reset_stale_exports()
        engine = self._stock_publish_engine()
        specs = engine.load_rules()
        marked = self._take_marks([spec.id for spec in specs])
        hand_over = self._exporting_backend_ids() if marked else set()
        started = time.monotonic()
        products = written = 0
        exporting = defaultdict(list)
        more = False
        while specs and marked:
            product_ids, marked = marked[:SWEEP_BATCH], marked[SWEEP_BATCH:]
            stats = engine.recompute(
                product_ids=product_ids, specs=specs, hand_over=hand_over
            )
            products += len(product_ids)
            written += stats["written"]
            for backend_id, level_ids in stats["exporting"].items():
                exporting[backend_id] += level_ids
            if marked and time.monotonic() - started > SWEEP_TIME_BUDGET:
                # the rest for the next sweep, committed with this one
                self._record_marks(marked)
                more = True
                break
        # the levels just written went to exporting in the same write; the
        # ones left to export before (a channel unpaused...) follow
        jobs = self._delay_exports(exporting) + self._enqueue_exports()
        if more:
            self._enqueue_sweep(delay=0)
        return (
            f"{products} products recomputed, {written} levels written, "
            f"{jobs} export jobs{', more to sweep' if more else ''}"
        )

    @api.model
    def _exporting_backend_ids(self):
        """Ids of the backends whose levels go to export, as
        ``_enqueue_exports`` takes them: active and not paused, with an
        active rule out of shadow mode."""
        self.env.cr.execute(
            SQL(
                """
                SELECT r.backend_id
                FROM distribution_publish_rule r
                JOIN distribution_backend b ON b.id = r.backend_id
                WHERE r.active AND NOT COALESCE(r.shadow_mode, FALSE)
                  AND b.active AND NOT COALESCE(b.paused, FALSE)
                """
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}
