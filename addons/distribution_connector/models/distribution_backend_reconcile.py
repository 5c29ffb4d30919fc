"""Reconciliation settings of a backend and its stale-channel guard.

A backend is *stale* when nothing came from it and nothing it acknowledged
went to it for longer than its window: no inbound event (webhook or pulled
order) and no stock push it confirmed. The guard raises an activity, posts
on the backend and, when its policy says so, the stock publishing engine
reduces what the channel is offered until it is heard from again.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

STALE_ACTIVITY_TYPE = "mail.mail_activity_data_warning"
MANAGER_GROUP = "distribution_connector.group_distribution_manager"


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    responsible_id = fields.Many2one(
        "res.users",
        tracking=True,
        help="Who is alerted when the backend goes stale or reconciliation "
        "finds something; without one, the Distribution Managers are.",
    )
    # -- order pulls ---------------------------------------------------------
    order_pull_enabled = fields.Boolean(
        string="Pull missed orders",
        default=True,
        help="Reconciliation pulls the orders changed since its last run, "
        "when the adapter can, so that an order whose webhook got lost is "
        "imported all the same (once: pulled orders go through the inbox).",
    )
    order_pull_overlap_minutes = fields.Integer(
        string="Pull overlap (minutes)",
        default=10,
        help="Each pull starts this long before the end of the previous one, "
        "so that orders the channel stamps late are not missed.",
    )
    # -- stock drift -----------------------------------------------------------
    stock_drift_policy = fields.Selection(
        [
            ("exception", "Raise an exception"),
            ("republish", "Publish our quantity again"),
        ],
        default="exception",
        required=True,
        tracking=True,
        help="What the stock check does when the channel shows another "
        "quantity than the one it confirmed to us.",
    )
    # -- stale guard --------------------------------------------------------------
    stale_window_minutes = fields.Integer(
        string="Stale after (minutes)",
        default=0,
        tracking=True,
        help="Mark the backend stale when neither an inbound event nor an "
        "acknowledged stock push happened for this long. 0: never.",
    )
    stale = fields.Boolean(readonly=True, copy=False, tracking=True)
    stale_since = fields.Datetime(readonly=True, copy=False)
    stale_policy = fields.Selection(
        [
            ("alert", "Alert only"),
            ("reduce", "Alert and reduce published quantities"),
        ],
        default="alert",
        required=True,
        tracking=True,
    )
    stale_reduce_percent = fields.Float(
        string="Publish while stale (%)",
        default=0.0,
        tracking=True,
        help="Share of the computed quantity still published while the "
        "backend is stale (reduce policy). 0 publishes zero.",
    )

    _stale_reduce_percent_range = models.Constraint(
        "CHECK(stale_reduce_percent >= 0 AND stale_reduce_percent <= 100)",
        "The share published while stale is a percentage (0 to 100).",
    )
    _order_pull_overlap_positive = models.Constraint(
        "CHECK(order_pull_overlap_minutes >= 0)",
        "The pull overlap cannot be negative.",
    )

    def _stale_reduce_percent(self):
        """Percentage of its quantities the backend is offered now; None when
        no reduction applies (not stale, or the policy only alerts, or no
        single backend, e.g. the form of a rule not saved yet)."""
        if len(self) != 1:
            return None
        if self.stale and self.stale_policy == "reduce":
            return self.stale_reduce_percent
        return None

    # -- batched cron runs -------------------------------------------------------

    def _reconcile_batched(self, method_name):
        """Run ``method_name`` on each backend of ``self``, one at a time.

        In a scheduled action, each backend's work is committed with the
        cron's progress (``ir.cron._commit_progress``): a failure loses one
        backend's run only, and when the cron's time is up the rest is left
        to the next run, which Odoo schedules at once. Elsewhere (a job, a
        test) nothing is committed here: the caller's transaction decides.

        :return: {backend id: result text}
        """
        in_cron = bool(self.env.context.get("ir_cron_progress_id"))
        cron = self.env["ir.cron"]
        if in_cron:
            cron._commit_progress(remaining=len(self))
        results = {}
        for backend in self:
            try:
                with self.env.cr.savepoint():
                    results[backend.id] = getattr(backend, method_name)()
            except Exception as err:  # one backend never stops the others
                if not in_cron:
                    raise
                _logger.exception(
                    "Reconciliation %s failed for backend %s", method_name, backend.id
                )
                results[backend.id] = f"failed: {type(err).__name__}"
            if in_cron and cron._commit_progress(1) <= 0:
                break
        return results

    # -- stale guard ---------------------------------------------------------------

    @api.model
    def _cron_check_stale(self):
        backends = self.search(
            [("stale_window_minutes", ">", 0), ("paused", "=", False)],
            order="id",
        )
        return backends._reconcile_batched("_check_stale")

    def _last_inbound_at(self):
        """When the backend last sent us something (webhook or pull)."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                """
                SELECT MAX(received_at) FROM distribution_exchange
                WHERE backend_id = %s AND direction = 'in'
                """,
                self.id,
            )
        )
        return self.env.cr.fetchone()[0]

    def _last_stock_ack_at(self):
        """When the backend last confirmed a stock push; hook of the stock
        publishing addon (None here)."""
        self.ensure_one()
        return None

    def _last_contact_at(self):
        """The last sign of life: an inbound event or an acknowledged stock
        push, else the backend's creation."""
        self.ensure_one()
        moments = [self._last_inbound_at(), self._last_stock_ack_at()]
        moments = [moment for moment in moments if moment]
        return max(moments) if moments else self.create_date

    def _check_stale(self):
        """Mark the backend stale, or recovered; return what happened."""
        self.ensure_one()
        if self.stale_window_minutes <= 0:
            if self.stale:
                self._mark_recovered()
                return "recovered: guard disabled"
            return "nothing to do: no stale window"
        last = self._last_contact_at()
        window = timedelta(minutes=self.stale_window_minutes)
        silent = fields.Datetime.now() - last > window
        if silent and not self.stale:
            self._mark_stale(last)
            return "stale"
        if not silent and self.stale:
            self._mark_recovered()
            return "recovered"
        return "stale" if self.stale else "alive"

    def _stale_alert_users(self):
        """Who is alerted: the responsible, else the managers of the company."""
        self.ensure_one()
        if self.responsible_id:
            return self.responsible_id
        group = self.env.ref(MANAGER_GROUP)
        return group.all_user_ids.filtered(
            lambda user: not user.share and self.company_id in user.company_ids
        )

    def _mark_stale(self, last_contact):
        self.ensure_one()
        self.write({"stale": True, "stale_since": fields.Datetime.now()})
        reduce = self._stale_reduce_percent()
        if reduce is None:
            consequence = self.env._("Its published quantities are not changed.")
        else:
            consequence = self.env._(
                "Its published quantities are reduced to %(percent)s %% until it "
                "recovers.",
                percent=f"{reduce:g}",
            )
        note = self.env._(
            "No inbound event and no acknowledged stock push since %(last)s "
            "(window: %(minutes)s minutes). %(consequence)s",
            last=fields.Datetime.to_string(last_contact),
            minutes=self.stale_window_minutes,
            consequence=consequence,
        )
        self.message_post(body=self.env._("Backend stale. %(note)s", note=note))
        for user in self._stale_alert_users():
            self.activity_schedule(
                STALE_ACTIVITY_TYPE,
                summary=self.env._("Channel %(name)s is stale", name=self.name),
                note=note,
                user_id=user.id,
            )
        self._on_stale_changed()

    def _mark_recovered(self):
        self.ensure_one()
        since = self.stale_since
        self.write({"stale": False, "stale_since": False})
        message = self.env._(
            "Backend recovered (stale since %(since)s).",
            since=fields.Datetime.to_string(since) if since else "?",
        )
        self.message_post(body=message)
        activity_type = self.env.ref(STALE_ACTIVITY_TYPE)
        self.activity_ids.filtered(
            lambda act: act.activity_type_id == activity_type
        ).action_feedback(feedback=message)
        self._on_stale_changed()

    def _on_stale_changed(self):
        """Hook: the backend went stale or recovered (the stock publishing
        addon recomputes its levels)."""
        self.ensure_one()
