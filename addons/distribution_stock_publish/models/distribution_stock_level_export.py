from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
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

#: an exporting level whose job vanished is exported again after this delay
STALE_EXPORT = timedelta(hours=1)


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
                UPDATE distribution_stock_level SET state = 'clean'
                WHERE state = 'exporting' AND write_date < %s
                """,
                fields.Datetime.now() - STALE_EXPORT,
            )
        )
        if self.env.cr.rowcount:
            self.invalidate_model(["state"])

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
                        description=f"Publish {len(batch)} stock levels to "
                        f"{backend.name}",
                    ).export_batch()
                )
        return len(delay_many(delayables))

    @api.private
    def export_batch(self):
        """Job entry point: send these levels' quantities to their channel.

        Relevance first: only levels still *exporting* are sent, locked so
        that two jobs never send the same level. The published quantity is
        written only for the items the channel confirmed. A compare-and-set
        mismatch is retried once with the channel's number; rate limiting and
        transient failures retry the job (nothing recorded, the attempt rolls
        back, the calls' log survives); permanent failures put the levels
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
                        "quantity": _exported_quantity(level.computed_qty),
                        "compare_quantity": (
                            _exported_quantity(level.published_qty)
                            if level.published_at
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

        sent = run_job(
            self.env,
            lambda: self._send(backend, adapter, batch),
            record,
            redact=backend._redact,
            what=f"exporting stock to {backend.name}",
        )
        if isinstance(sent, str):
            return sent
        confirmed, failed, pending = sent
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
        """One export call (the HTTP client logs its calls); checked results."""
        items = [item for _level, item in batch]
        return _checked_results(items, adapter.export_stock(items))

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


def _exported_quantity(qty):
    """A quantity as sent to a channel: an int when it is whole (channels
    count units)."""
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
