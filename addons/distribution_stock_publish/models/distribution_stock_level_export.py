import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta

from odoo import api, fields, models, modules
from odoo.tools import SQL

from odoo.addons.distribution_connector.errors import PermanentError, TransientError
from odoo.addons.distribution_connector.job_policy import run_job
from odoo.addons.distribution_connector.jobs import delay_many
from odoo.addons.distribution_connector.models.distribution_call_log import calls_for
from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    check_group,
)
from odoo.addons.queue_job.delay import Delayable
from odoo.addons.queue_job.exception import RetryableJobError

from .distribution_stock_level_sweep import PUBLISH_PRIORITY

#: an exporting level whose job vanished is exported again after this delay
STALE_EXPORT = timedelta(hours=1)
#: context key: claims and results in transactions of their own even while
#: tests run (outside tests they always are)
OWN_TRANSACTIONS = "distribution_stock_export_own_transactions"
#: context keys of a running export: its claim id and, per level id, the
#: (computed, basis, published) numbers read when the levels were claimed
CLAIM = "distribution_stock_export_claim"
SNAPSHOT = "distribution_stock_export_snapshot"


class DistributionStockLevel(models.Model):
    """Export: the changed levels go to the channel in batches, the
    published quantity is recorded for what the channel confirmed, and the
    user actions that recompute or publish at once."""

    # one file per stage of the stock level, by design
    _inherit = "distribution.stock.level"  # pylint: disable=consider-merging-classes-inherited

    # -- export -----------------------------------------------------------------------

    @api.model
    def _reset_stale_exports(self):
        """Levels still exporting long after their job should have ended
        (the job vanished) go back to clean: the sweep exports them again."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level
                SET state = 'clean', export_claim = NULL
                WHERE state = 'exporting' AND write_date < %s
                """,
                fields.Datetime.now() - STALE_EXPORT,
            )
        )
        if self.env.cr.rowcount:
            self.invalidate_model(["state", "export_claim"])

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
                  AND l.export_claim IS NULL
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
        return self._delay_exports(by_backend)

    @api.model
    def _delay_exports(self, by_backend):
        """Export jobs for exporting levels (``{backend id: level ids}``), at
        most the adapter's ``max_batch_size`` levels each, run as the
        backend's technical user, stored in one statement; return how many."""
        delayables = []
        for backend_id, ids in by_backend.items():
            backend = self.env["distribution.backend"].sudo().browse(backend_id)
            size = max(1, backend._get_adapter().max_batch_size)
            ids = sorted(ids)
            for start in range(0, len(ids), size):
                batch = ids[start : start + size]
                delayables.append(
                    Delayable(
                        self.browse(batch).with_user(backend.job_user_id),
                        priority=PUBLISH_PRIORITY,
                        description=f"Publish {len(batch)} stock levels to "
                        f"{backend.name}",
                    ).export_batch()
                )
        return len(delay_many(delayables))

    @api.private
    def export_batch(self):
        """Job entry point: send these levels' quantities to their channel.

        Relevance first: only levels still *exporting* and not claimed by
        another export are sent. No row lock is held across the channel's
        calls: the levels are claimed (a claim id on the row: the job's uuid,
        so that a retried job takes its levels back) in a transaction of its
        own, committed before the call, and the results are written in
        another one, only where the claim is still ours; a claim abandoned
        by a crash is released by the sweep (``_reset_stale_exports``).

        What is sent is a change, not an absolute: the channel's number plus
        what the engine's number moved since the last confirmed publish
        (``basis_qty``), so that sales the channel made and Odoo has not
        received yet are never erased. The published quantity is what the
        channel confirmed. Rate limiting and transient failures retry the
        job; permanent failures put the levels in error and the job ends
        cleanly.
        """
        self.env.flush_all()
        claim = self.env.context.get("job_uuid") or uuid.uuid4().hex
        with self._export_transaction() as cr:
            cr.execute(
                SQL(
                    """
                    UPDATE distribution_stock_level l
                    SET export_claim = %(claim)s,
                        write_date = now() AT TIME ZONE 'UTC'
                    FROM (SELECT id FROM distribution_stock_level
                          WHERE id = ANY(%(ids)s) AND state = 'exporting'
                            AND (export_claim IS NULL
                                 OR export_claim = %(claim)s)
                          ORDER BY id FOR NO KEY UPDATE) AS claimed
                    WHERE l.id = claimed.id
                    RETURNING l.id, l.computed_qty,
                              CASE WHEN l.published_at IS NOT NULL
                                   THEN COALESCE(l.basis_qty, l.published_qty)
                              END
                    """,
                    ids=self.ids,
                    claim=claim,
                )
            )
            snapshot = {row[0]: (row[1] or 0.0, row[2]) for row in cr.fetchall()}
        self.invalidate_model(["export_claim", "write_date"])
        if not snapshot:
            return "nothing to do: no level waits for export"
        levels = (
            self.sudo()
            .browse(sorted(snapshot))
            .with_context(**{CLAIM: claim, SNAPSHOT: snapshot})
        )
        results = [
            levels.filtered(lambda lv, b=backend: lv.backend_id == b)._export(backend)
            for backend in levels.backend_id
        ]
        return "; ".join(results)

    @contextmanager
    def _export_transaction(self):
        """A short transaction of its own for the export's claims and
        results, committed on exit, in READ COMMITTED: a row a sweep changed
        meanwhile is written after it, never refused. While tests run, the
        test's transaction (unless OWN_TRANSACTIONS is set).

        Why a test branch rather than Odoo's registry test mode (where
        ``registry.cursor()`` wraps the test's cursor): a transaction's
        isolation level can only be set before its first statement, which a
        cursor wrapping the test's transaction has long run, so the code
        would branch on the cursor instead; and every test class that
        exports (here and in each adapter) would have to enter the test
        mode, while the few tests that need real transactions (the claims,
        on committed data) set OWN_TRANSACTIONS.
        """
        if modules.module.current_test and not self.env.context.get(OWN_TRANSACTIONS):
            yield self.env.cr
            return
        with self.env.registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            yield cr

    def _claim_filter(self):
        claim = self.env.context.get(CLAIM)
        return SQL("AND l.export_claim = %s", claim) if claim else SQL()

    def _export(self, backend):
        """Export levels of one backend; return the job's result text."""
        rule = self.rule_id[:1]
        if backend.paused or not backend.active or not rule.active or rule.shadow_mode:
            self._write_states("clean")
            return (
                f"nothing to do: {backend.name} is paused, archived or in shadow mode"
            )
        snapshot = self.env.context.get(SNAPSHOT) or {}
        batch, missing = [], self.browse()
        for level in self:
            computed, basis = snapshot.get(
                level.id,
                (
                    level.computed_qty,
                    level.published_qty if level.published_at else None,
                ),
            )
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
                        "quantity": _exported_quantity(computed),
                        "compare_quantity": (
                            _exported_quantity(basis) if basis is not None else None
                        ),
                        "change": (
                            _exported_quantity(computed - basis)
                            if basis is not None
                            else None
                        ),
                    },
                )
            )
        no_sku = self.env._("The product has no internal reference (SKU).")
        missing._record_errors(dict.fromkeys(missing.ids, no_sku))
        if not batch:
            return f"failed: {len(missing)} levels without SKU"
        # the HTTP calls of the export are logged as made for these levels
        adapter = backend.with_context(**calls_for(self))._get_adapter()

        def record(err):
            self._record_errors(dict.fromkeys(self.ids, backend._redact(err.message)))

        try:
            sent = run_job(
                self.env,
                lambda: self._send(backend, adapter, batch),
                record,
                redact=backend._redact,
                what=f"exporting stock to {backend.name}",
            )
        except RetryableJobError:
            if not self.env.context.get("job_uuid"):
                # no job retries these levels: a later export may take them
                self._release_claims()
            raise
        if isinstance(sent, str):
            return sent
        confirmed, failed, pending = sent
        again = self._record_published(confirmed)
        self._record_errors(failed)
        if again:
            # the engine's number moved during the call: send the change
            self._delay_exports(again)
        if pending:
            # the first call confirmed some items: keep them, retry the rest
            self.browse(list(pending))._release_claims()
            self.browse(list(pending)).with_delay(
                eta=pending_delay(pending),
                priority=PUBLISH_PRIORITY,
                description="Publish stock levels again",
            ).export_batch()
        return (
            f"{len(confirmed)} published, {len(failed) + len(missing)} failed"
            f"{f', {len(pending)} postponed' if pending else ''}"
        )

    def _send(self, backend, adapter, batch):
        """Call the adapter; on a compare-and-set mismatch, send the
        channel's number plus the engine's change once more.

        Each item carries the engine's number (``quantity``), the number
        the channel should show (``compare_quantity``: the basis, None when
        never published) and their difference (``change``). Per the
        adapter's ``stock_update_mode``:

        * ``compare``: the channel sets ``quantity`` only when it shows
          ``compare_quantity``; when it shows another number (it sold what
          Odoo has not received yet), that number plus ``change`` is sent,
          never more than the engine's number nor less than 0;
        * ``delta``: the channel adds ``change`` to its own number and
          answers the result;
        * ``absolute``: the channel takes ``quantity``; the number it answers
          (lower when it sold meanwhile) is what it confirmed.

        :return: ({level id: (quantity the channel confirmed, basis shift)},
            {level id: error message}, {level id: seconds to wait} of items to
            send again later). The basis shift is what the level's basis moves
            by (None: the basis becomes the confirmed quantity).
        """
        mode = getattr(adapter, "stock_update_mode", "compare")
        confirmed, failed, pending = {}, {}, {}
        results = self._call_adapter(backend, adapter, batch)
        retry = []
        for (level, item), result in zip(batch, results, strict=True):
            quantity, basis = item["quantity"], item["compare_quantity"]
            actual = result["actual_quantity"]
            if result["status"] == "ok" and mode == "delta" and basis is not None:
                channel = actual if actual is not None else basis + item["change"]
                confirmed[level.id] = (channel, item["change"])
            elif result["status"] == "ok" or (
                result["status"] == "mismatch" and mode == "absolute"
            ):
                channel = (
                    actual if mode == "absolute" and actual is not None else quantity
                )
                confirmed[level.id] = (
                    channel,
                    None if basis is None else quantity - basis,
                )
            elif result["status"] == "mismatch":
                target = _change_target(actual, quantity, basis)
                shift = target - min(actual, basis) if basis is not None else None
                if target == actual:
                    confirmed[level.id] = (actual, shift)
                    continue
                retry.append(
                    (
                        level,
                        dict(
                            item,
                            quantity=target,
                            compare_quantity=actual,
                            change=_exported_quantity(target - actual),
                        ),
                        shift,
                    )
                )
            else:
                failed[level.id] = result.get("message") or self.env._(
                    "The channel refused the quantity."
                )
        if not retry:
            return confirmed, failed, pending
        try:
            results = self._call_adapter(
                backend, adapter, [(level, item) for level, item, _s in retry]
            )
        except TransientError as err:
            if not confirmed:
                raise
            for level, _item, _shift in retry:
                pending[level.id] = err.retry_after or 60
            return confirmed, failed, pending
        for (level, item, shift), result in zip(retry, results, strict=True):
            if result["status"] == "ok":
                confirmed[level.id] = (item["quantity"], shift)
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
        """One export call (the HTTP client logs its calls); checked results."""
        items = [item for _level, item in batch]
        return _checked_results(items, adapter.export_stock(items))

    def _write_states(self, state):
        if not self:
            return
        with self._export_transaction() as cr:
            cr.execute(
                SQL(
                    "UPDATE distribution_stock_level l SET state = %s, "
                    "export_claim = NULL, write_date = now() AT TIME ZONE 'UTC' "
                    "WHERE l.id = ANY(%s) %s",
                    state,
                    self.ids,
                    self._claim_filter(),
                )
            )
        self.invalidate_model(["state", "export_claim", "write_date"])

    def _release_claims(self):
        """These levels stay exporting, free for the next export job."""
        with self._export_transaction() as cr:
            cr.execute(
                SQL(
                    "UPDATE distribution_stock_level l SET export_claim = NULL "
                    "WHERE l.id = ANY(%s) %s",
                    self.ids,
                    self._claim_filter(),
                )
            )
        self.invalidate_model(["export_claim"])

    def _record_published(self, confirmed):
        """What the channel confirmed: ``{level id: (quantity, basis
        shift)}``, written only where the claim is still this export's.

        The published quantity is the channel's; the basis moves by the
        shift (or becomes the quantity on a first publish), so that the
        channel's own orders received during the call still count. A level
        whose engine number moved during the call stays exporting.

        :return: {backend id: level ids} still exporting, to send again
        """
        if not confirmed:
            return {}
        basis = SQL(
            "CASE WHEN v.shift IS NULL OR l.published_at IS NULL THEN v.qty "
            "ELSE COALESCE(l.basis_qty, l.published_qty, 0) + v.shift END"
        )
        with self._export_transaction() as cr:
            cr.execute(
                SQL(
                    """
                    UPDATE distribution_stock_level l
                    SET published_qty = v.qty,
                        published_at = now() AT TIME ZONE 'UTC',
                        basis_qty = %(basis)s,
                        differs = l.computed_qty IS DISTINCT FROM %(basis)s,
                        state = CASE
                            WHEN l.state = 'exporting'
                                 AND l.computed_qty IS DISTINCT FROM %(basis)s
                            THEN 'exporting'
                            WHEN l.state = 'exporting' THEN 'clean'
                            ELSE l.state END,
                        export_claim = NULL,
                        error = NULL,
                        write_date = now() AT TIME ZONE 'UTC'
                    FROM unnest(%(ids)s::int[], %(qtys)s::float8[],
                                %(shifts)s::float8[]) AS v(id, qty, shift)
                    WHERE l.id = v.id %(claim)s
                    RETURNING l.id, l.backend_id, l.state = 'exporting'
                    """,
                    basis=basis,
                    ids=list(confirmed),
                    qtys=[qty for qty, _shift in confirmed.values()],
                    shifts=[shift for _qty, shift in confirmed.values()],
                    claim=self._claim_filter(),
                )
            )
            again = defaultdict(list)
            for level_id, backend_id, exporting in cr.fetchall():
                if exporting:
                    again[backend_id].append(level_id)
        self.invalidate_model(
            [
                "published_qty",
                "published_at",
                "basis_qty",
                "differs",
                "state",
                "export_claim",
                "error",
                "write_date",
            ]
        )
        return dict(again)

    def _record_errors(self, errors):
        """Failed exports: {level id: message}; the levels go in error."""
        if not errors:
            return
        with self._export_transaction() as cr:
            cr.execute(
                SQL(
                    """
                    UPDATE distribution_stock_level l
                    SET state = 'error', error = v.message, export_claim = NULL,
                        write_date = now() AT TIME ZONE 'UTC'
                    FROM unnest(%s::int[], %s::text[]) AS v(id, message)
                    WHERE l.id = v.id %s
                    """,
                    list(errors),
                    [str(message) for message in errors.values()],
                    self._claim_filter(),
                )
            )
        self.invalidate_model(["state", "error", "export_claim", "write_date"])

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


def _exported_quantity(qty):
    """A quantity as sent to a channel: an int when it is whole (channels
    count units)."""
    return int(qty) if qty == int(qty) else qty


def _change_target(actual, quantity, basis):
    """What a channel showing ``actual`` should show: its number plus what
    the engine's number (``quantity``) moved since the basis, at most the
    engine's number, at least 0."""
    if basis is None:
        return quantity
    return _exported_quantity(max(0, min(actual + quantity - basis, quantity)))


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
