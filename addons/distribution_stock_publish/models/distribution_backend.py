"""Stock reconciliation of a backend: what the channel shows against what it
confirmed to us, and the stale guard's effect on published quantities."""

import json
import uuid

from odoo import api, fields, models
from odoo.tools import SQL, float_compare

from odoo.addons.distribution_connector.adapters.base import DistributionAdapter
from odoo.addons.distribution_connector.errors import DistributionError

STOCK_DRIFT = "stock_drift"
#: drifted items kept in the stock check's exchange, at most
REPORT_LIMIT = 1000


#: quantities closer than this are equal
VARIANCE_EPSILON = 0.0001


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    # -- stale guard --------------------------------------------------------------

    def _last_stock_ack_at(self):
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "SELECT MAX(published_at) FROM distribution_stock_level "
                "WHERE backend_id = %s",
                self.id,
            )
        )
        acked = self.env.cr.fetchone()[0]
        previous = super()._last_stock_ack_at()
        return max(filter(None, [acked, previous]), default=None)

    def _on_stale_changed(self):
        """Stale or recovered: the backend's levels are recomputed (the
        reduction step comes or goes) and what changed is exported."""
        result = super()._on_stale_changed()
        rules = (
            self.env["distribution.publish.rule"]
            .sudo()
            .search([("backend_id", "=", self.id), ("active", "=", True)])
        )
        if rules:
            self.env["distribution.stock.level"].sudo()._mark_rules_dirty(rules.ids)
        return result

    def _check_publish_rule_partitions(self):
        """Check the hard partitions of these backends' publish rules (their
        default sources are the backends' warehouses)."""
        self.env["distribution.publish.rule"].sudo().search(
            [("backend_id", "in", self.ids)]
        )._check_partition_sources()

    # -- stock drift -------------------------------------------------------------

    def _checks_stock(self):
        """True when the adapter can read the channel's quantities."""
        self.ensure_one()
        adapter_class = type(self._get_adapter())
        return adapter_class.read_stock is not DistributionAdapter.read_stock

    @api.model
    def _cron_check_stock_drift(self):
        """Scheduled action: compare each channel's quantities with what it
        confirmed, the backends checked longest ago first."""
        return self._cron_reconcile(
            STOCK_DRIFT, "_check_stock_drift", lambda backend: backend._checks_stock()
        )

    def action_check_stock_drift(self):
        """Button: check the channel's quantities now, in a job."""
        return self._delay_reconcile(
            "check_stock_drift_job", "Check the stock shown by %(backend)s"
        )

    @api.private
    def check_stock_drift_job(self):
        """Job entry point; transient failures retry the job."""
        self.ensure_one()
        return self._check_stock_drift(retry=True)

    def _check_stock_drift(self, retry=False):
        """Read the channel's quantities of the published levels, store them
        on the levels (``channel_quantity``), and handle the drifted ones per
        the backend's policy: an exception each, or publish ours again.

        :return: a text saying what happened
        """
        self.ensure_one()
        if not self._checks_stock():
            return "nothing to do: the adapter cannot read stock"
        return self._run_reconcile(
            STOCK_DRIFT,
            "stock check",
            self._check_stock_drift_run,
            self.env._("Checking the channel's stock failed: %(error)s"),
            retry=retry,
        )

    def _check_stock_drift_run(self, _watermark):
        """One stock check, under its locked watermark; return (result text,
        moment of the check)."""
        levels = (
            self.env["distribution.stock.level"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("published_at", "!=", False),
                    ("state", "in", ("clean", "error")),
                ],
                order="id",
            )
        )
        levels = levels.filtered(
            lambda lv: lv.product_id.default_code or lv.external_ref
        )
        adapter = self._get_adapter()
        size = max(1, adapter.max_batch_size)
        checked_at = fields.Datetime.now()
        # what the channel should show: the basis (its orders received since
        # its last confirmation are deducted), not the number it confirmed
        bases = levels._bases()
        seen, drifted, report = {}, self.env["distribution.stock.level"].sudo(), []
        for start in range(0, len(levels), size):
            batch = levels[start : start + size]
            items = [
                {
                    "sku": level.product_id.default_code or None,
                    "external_ref": level.external_ref or None,
                }
                for level in batch
            ]
            results = adapter.read_stock(items)
            if not isinstance(results, list | tuple) or len(results) != len(items):
                raise DistributionError(
                    "The adapter answered a stock check with a malformed result list.",
                    kind="invalid_response",
                )
            for level, item, result in zip(batch, items, results, strict=True):
                quantity = result.get("quantity")
                seen[level.id] = quantity
                if quantity is not None and float_compare(
                    quantity, bases.get(level.id, 0.0), precision_digits=6
                ):
                    drifted |= level
                    if len(report) < REPORT_LIMIT:
                        report.append(
                            dict(
                                item,
                                published=bases.get(level.id, 0.0),
                                channel=quantity,
                            )
                        )
        self._store_channel_quantities(seen, checked_at)
        self._resolve_channel_drifts(levels - drifted)
        if drifted and self.stock_drift_policy == "republish":
            jobs = drifted._enqueue_exports(level_ids=drifted.ids, force=True)
            outcome = f"{jobs} export jobs to publish ours again"
        elif drifted:
            self._raise_channel_drifts(drifted, report, checked_at)
            outcome = "exceptions raised"
        else:
            outcome = "no drift"
        result = f"{len(seen)} levels checked, {len(drifted)} drifted: {outcome}"
        return result, checked_at

    def _store_channel_quantities(self, seen, checked_at):
        if not seen:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level l
                SET channel_quantity = v.qty, channel_quantity_date = %s
                FROM unnest(%s::int[], %s::float8[]) AS v(id, qty)
                WHERE l.id = v.id
                """,
                checked_at,
                list(seen),
                list(seen.values()),
            )
        )
        self.env["distribution.stock.level"].invalidate_model(
            ["channel_quantity", "channel_quantity_date"]
        )

    def _open_channel_drifts(self, levels):
        return (
            self.env["distribution.exception"]
            .sudo()
            .search(
                [
                    ("stock_level_id", "in", levels.ids),
                    ("type", "=", "channel_drift"),
                    ("state", "=", "open"),
                ]
            )
        )

    def _resolve_channel_drifts(self, levels):
        """The channel shows what it confirmed again: drifts are settled."""
        if levels:
            self._open_channel_drifts(levels).write(
                {"state": "resolved", "resolved_at": fields.Datetime.now()}
            )

    def _raise_channel_drifts(self, drifted, report, checked_at):
        """One open exception per drifted level (a later check updates it),
        tied to an exchange that keeps what the channel reported."""
        exchange = (
            self.env["distribution.exchange"]
            .sudo()
            .create(
                {
                    "backend_id": self.id,
                    "direction": "in",
                    "topic": "stock_check",
                    "kind": "stock_check",
                    "external_event_id": f"stock_check:{uuid.uuid4().hex}",
                    "content_type": "application/json",
                    "raw_body": json.dumps(
                        {
                            "checked_at": fields.Datetime.to_string(checked_at),
                            "drifted": report,
                        },
                        indent=2,
                        sort_keys=True,
                    ),
                    "state": "done",
                    "processed_at": checked_at,
                    "attempts": 1,
                }
            )
        )
        existing = {
            exc.stock_level_id.id: exc for exc in self._open_channel_drifts(drifted)
        }
        exceptions = self.env["distribution.exception"].sudo()
        for level in drifted:
            sku = level.product_id.default_code or level.external_ref
            vals = {
                "message": self.env._(
                    "%(backend)s shows %(channel)s of %(sku)s, but confirmed "
                    "%(published)s to us. Retry publishes our quantity again.",
                    backend=self.name,
                    channel=f"{level.channel_quantity:g}",
                    sku=sku,
                    published=f"{level.published_qty:g}",
                ),
                "exchange_id": exchange.id,
            }
            exc = existing.get(level.id)
            if exc:
                exc.write({**vals, "occurrences": exc.occurrences + 1})
            else:
                exceptions.create(
                    {
                        **vals,
                        "type": "channel_drift",
                        "key": sku,
                        "product_id": level.product_id.id,
                        "stock_level_id": level.id,
                    }
                )

    # -- health ------------------------------------------------------------------
    # Stock variance on the backend's Health screen: levels whose
    # channel-reported quantity is not the one we published.

    health_variance_count = fields.Integer(
        compute="_compute_health_variance",
        string="Levels with a variance",
        help="Stock levels whose quantity reported by the channel differs "
        "from the published one.",
    )
    health_variance_qty = fields.Float(
        compute="_compute_health_variance",
        string="Total variance (units)",
        help="Sum of the absolute differences, in each product's unit.",
    )
    health_variance_checked_count = fields.Integer(
        compute="_compute_health_variance",
        string="Levels read back",
        help="Stock levels whose quantity the channel reported.",
    )
    health_variance_checked_at = fields.Datetime(
        compute="_compute_health_variance",
        string="Channel stock last read",
    )

    def _variance_condition(self):
        return SQL(
            "channel_quantity_date IS NOT NULL AND "
            "ABS(COALESCE(channel_quantity, 0) - COALESCE(published_qty, 0)) > %s",
            VARIANCE_EPSILON,
        )

    def _compute_health_variance(self):
        self.env["distribution.stock.level"].flush_model(
            ["backend_id", "channel_quantity", "channel_quantity_date", "published_qty"]
        )
        rows = {}
        if self.ids:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT backend_id,
                           COUNT(*) FILTER (WHERE %(variance)s),
                           SUM(ABS(COALESCE(channel_quantity, 0)
                               - COALESCE(published_qty, 0))),
                           COUNT(*),
                           MAX(channel_quantity_date)
                    FROM distribution_stock_level
                    WHERE backend_id IN %(ids)s AND channel_quantity_date IS NOT NULL
                    GROUP BY backend_id
                    """,
                    variance=self._variance_condition(),
                    ids=tuple(self.ids),
                )
            )
            rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for backend in self:
            count, qty, checked, checked_at = rows.get(backend.id, (0, 0.0, 0, False))
            backend.health_variance_count = count
            backend.health_variance_qty = qty or 0.0
            backend.health_variance_checked_count = checked
            backend.health_variance_checked_at = checked_at

    def action_health_variance(self):
        """The stock levels of this backend with a variance."""
        self.ensure_one()
        self.env["distribution.stock.level"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM distribution_stock_level WHERE backend_id = %s AND %s",
                self.id,
                self._variance_condition(),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Stock variance of %(backend)s", backend=self.name),
            "res_model": "distribution.stock.level",
            "view_mode": "list,form",
            "views": [
                (
                    self.env.ref(
                        "distribution_stock_publish.distribution_stock_level_view_list_variance"
                    ).id,
                    "list",
                ),
                (False, "form"),
            ],
            "domain": [("id", "in", ids)],
            "context": {},
        }
