import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL

from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    USER_GROUP,
    check_group,
    is_manager,
)

EXCEPTION_TYPES = [
    ("invalid_payload", "Invalid payload"),
    ("unknown_sku", "Unknown SKU"),
    ("currency_mismatch", "Currency mismatch"),
    ("unknown_tax", "Unknown tax"),
    ("unknown_country", "Unknown country"),
    ("order_changed", "Order changed after confirmation"),
    ("confirm_failed", "Confirmation failed"),
    ("unknown_order", "Unknown order"),
    ("cancel_after_shipping", "Cancelled after shipping"),
    ("cancel_failed", "Cancellation failed"),
    ("nothing_delivered", "Return of an order not delivered"),
    ("return_exceeds_delivery", "Return exceeds delivery"),
    ("unknown_picking", "Unknown transfer"),
    ("picking_cancelled", "Transfer cancelled"),
    ("over_shipment", "Shipped more than ordered"),
    ("over_receipt", "Received more than expected"),
    ("validation_failed", "Validation failed"),
    ("stock_refused", "Stock operation refused"),
    ("unknown_location", "Unknown location"),
    ("stock_drift", "Stock drift"),
    ("channel_drift", "Channel stock drift"),
    ("settlement_unmatched", "Settlement line unmatched"),
    ("settlement_mismatch", "Settlement amount mismatch"),
    ("configuration", "Configuration"),
    ("unsupported", "Not supported by the adapter"),
    ("unsupported_topic", "Unsupported topic"),
    ("invalid_response", "Invalid answer"),
    ("transient", "Gave up after retries"),
    ("job_failed", "Processing job failed"),
    ("job_cancelled", "Processing job cancelled"),
    ("rate_limited", "Rate limited"),
    ("permanent", "Rejected by the other side"),
    ("internal", "Internal error"),
]

#: exception types that wait on a mapping, by the model a binding of the
#: mapping points to: creating the binding (or giving a product the SKU as
#: internal reference) is what lets them be replayed
MAPPING_TYPES = {
    "product.product": "unknown_sku",
    "stock.location": "unknown_location",
}

#: what a Distribution User changes on an exception by hand (assigning it);
#: the rest goes through the actions (Retry, Ignore, Map SKU...)
USER_WRITABLE_FIELDS = frozenset({"user_id"})

#: the activity an assignee gets for each exception assigned to them
REVIEW_ACTIVITY = "mail.mail_activity_data_todo"

#: what a flow finds while it succeeds, rather than why it failed: kept
#: open when the exchange ends done, never overwritten by its failures
FINDING_TYPES = (
    "stock_drift",
    "channel_drift",
    "settlement_unmatched",
    "settlement_mismatch",
)


class DistributionException(models.Model):
    """Something that could not be applied, waiting for a person.

    Typed, linked to the exchange that carries the raw input, and safe to
    retry: retrying re-runs the exchange, which is idempotent.
    """

    _name = "distribution.exception"
    _description = "Distribution Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    exchange_id = fields.Many2one(
        "distribution.exchange",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    backend_id = fields.Many2one(
        related="exchange_id.backend_id", store=True, index=True
    )
    company_id = fields.Many2one(
        related="exchange_id.company_id", store=True, index=True
    )
    topic = fields.Char(related="exchange_id.topic")
    external_ref = fields.Char(related="exchange_id.external_ref", store=True)
    type = fields.Selection(
        EXCEPTION_TYPES,
        required=True,
        default="internal",
        index=True,
        readonly=True,
        tracking=True,
    )
    message = fields.Text(readonly=True)
    json_path = fields.Char(
        string="JSON path",
        readonly=True,
        help="Where the payload is wrong, e.g. $.lines[0].sku",
    )
    key = fields.Char(
        index=True,
        readonly=True,
        help="What the exception waits on (a SKU, a currency...): fixing it lets "
        "every exception waiting on the same key be replayed.",
    )
    details = fields.Text(readonly=True, groups="base.group_system")
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved"), ("ignored", "Ignored")],
        required=True,
        default="open",
        index=True,
        tracking=True,
    )
    user_id = fields.Many2one("res.users", string="Assignee", tracking=True, index=True)
    ignore_reason = fields.Text(readonly=True, tracking=True)
    resolved_at = fields.Datetime(readonly=True)
    occurrences = fields.Integer(
        default=1, readonly=True, help="Attempts that failed this way."
    )
    payload_pretty = fields.Text(string="Payload", compute="_compute_payload_pretty")
    exchange_state = fields.Selection(
        related="exchange_id.state", string="Exchange state"
    )
    correlation_id = fields.Char(related="exchange_id.correlation_id")
    result_name = fields.Char(
        string="Result",
        compute="_compute_result_name",
        help="The record the exchange produced once it went through.",
    )
    overdue = fields.Boolean(
        string="Older than SLA",
        compute="_compute_overdue",
        search="_search_overdue",
        help="Open for longer than its backend's exception SLA.",
    )
    waiting_count = fields.Integer(
        string="Waiting on the same key",
        compute="_compute_waiting_count",
        help="Open exceptions of the same type waiting on the same key "
        "(this one included): fixing the key lets them all be replayed.",
    )

    # -- stock drift: what a count found --------------------------------------
    product_id = fields.Many2one(
        "product.product", readonly=True, index="btree_not_null"
    )
    location_id = fields.Many2one(
        "stock.location", readonly=True, index="btree_not_null"
    )
    uom_id = fields.Many2one(related="product_id.uom_id", string="Unit")
    odoo_qty = fields.Float(
        string="Odoo quantity",
        digits="Product Unit",
        readonly=True,
        help="On hand in Odoo (location and sub-locations) when counted.",
    )
    counted_qty = fields.Float(
        string="Counted quantity", digits="Product Unit", readonly=True
    )
    drift_qty = fields.Float(
        string="Difference",
        digits="Product Unit",
        compute="_compute_drift_qty",
        help="Counted minus Odoo quantity.",
    )
    counted_at = fields.Datetime(readonly=True)
    approved_by_id = fields.Many2one(
        "res.users", string="Count applied by", readonly=True, tracking=True
    )
    approved_at = fields.Datetime(string="Count applied on", readonly=True)

    # one open drift per (backend, product, location): later counts update it
    _open_drift_unique = models.UniqueIndex(
        "(backend_id, product_id, location_id) "
        "WHERE type = 'stock_drift' AND state = 'open'",
        "A stock drift is already open for this product and location.",
    )

    @api.depends("type", "external_ref", "key")
    def _compute_name(self):
        labels = dict(EXCEPTION_TYPES)
        for exc in self:
            parts = [labels.get(exc.type, exc.type)]
            if exc.key:
                parts.append(exc.key)
            if exc.external_ref:
                parts.append(f"({exc.external_ref})")
            exc.name = " ".join(parts)

    @api.depends("odoo_qty", "counted_qty")
    def _compute_drift_qty(self):
        for exc in self:
            exc.drift_qty = exc.counted_qty - exc.odoo_qty

    def _compute_result_name(self):
        for exc in self:
            record = exc.exchange_id._result_record()
            exc.result_name = record.sudo().display_name if record else False

    def _sla_deadline(self):
        """When this exception leaves its backend's SLA."""
        self.ensure_one()
        hours = self.backend_id.exception_sla_hours or 0
        return (self.create_date or fields.Datetime.now()) + timedelta(hours=hours)

    @api.depends("state", "create_date", "backend_id.exception_sla_hours")
    def _compute_overdue(self):
        now = fields.Datetime.now()
        for exc in self:
            exc.overdue = exc.state == "open" and exc._sla_deadline() < now

    def _search_overdue(self, operator, value):
        if operator not in ("in", "not in"):
            return NotImplemented
        self.env["distribution.backend"].flush_model(["exception_sla_hours"])
        self.flush_model(["state", "backend_id", "create_date"])
        overdue = SQL(
            "(SELECT exc.id FROM distribution_exception exc"
            " JOIN distribution_backend backend ON backend.id = exc.backend_id"
            " WHERE exc.state = 'open' AND exc.create_date"
            " < (now() AT TIME ZONE 'UTC')"
            " - make_interval(hours => COALESCE(backend.exception_sla_hours, 0)))"
        )
        wanted = {bool(v) for v in value}
        if len(wanted) == 2:
            # both values asked for (or excluded): everything (or nothing)
            return Domain.TRUE if operator == "in" else Domain.FALSE
        overdue_wanted = (True in wanted) == (operator == "in")
        return [("id", "in" if overdue_wanted else "not in", overdue)]

    @api.model
    def _waiting_on_domain(self, keys, backend=None):
        """Open exceptions waiting on one of ``keys``, (type, key) pairs (of
        ``backend`` only, when given)."""
        waiting = Domain.OR(
            Domain("type", "=", exc_type) & Domain("key", "=", key)
            for exc_type, key in keys
        )
        if backend:
            waiting &= Domain("backend_id", "=", backend.id)
        return Domain("state", "=", "open") & waiting

    def _waiting_domain(self):
        """Open exceptions waiting on the same (type, key) as these."""
        return self._waiting_on_domain({(exc.type, exc.key) for exc in self if exc.key})

    def _compute_waiting_count(self):
        counts = dict(
            ((exc_type, key), count)
            for exc_type, key, count in self._read_group(
                self._waiting_domain(), ["type", "key"], ["__count"]
            )
        )
        for exc in self:
            exc.waiting_count = counts.get((exc.type, exc.key), 0) if exc.key else 0

    @api.model
    def _waiting_on(self, exc_type, keys, backend=None):
        """Open exceptions of ``exc_type`` waiting on one of ``keys`` (of
        ``backend`` only, when given)."""
        return self.search(
            self._waiting_on_domain([(exc_type, key) for key in keys], backend)
        )

    def _replay(self):
        """Retry these exceptions and tell the user how many were replayed.

        Each exchange is enqueued once, under an identity key, whatever the
        number of exceptions or clicks: the exchanges being idempotent (one
        binding per channel order), each is processed exactly once.
        """
        to_replay = self.filtered(
            lambda e: e.state == "open" and e.type not in FINDING_TYPES
        )
        to_replay.action_retry()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if to_replay else "warning",
                "message": self.env._(
                    "%(count)s exceptions replayed: they are processed again in "
                    "the background.",
                    count=len(to_replay),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_replay_waiting(self):
        """Replay every open exception waiting on the same key as these, once
        their cause (a mapping, a product reference...) is fixed."""
        return self.search(self._waiting_domain())._replay()

    @api.model
    def _list_action(self, domain):
        """The review queue's action, as a list of the exceptions of
        ``domain`` and with no default filter."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync.action_distribution_exception"
        )
        action.update(
            domain=list(Domain(domain)),
            context={},
            view_mode="list,form",
            views=[(False, "list"), (False, "form")],
        )
        return action

    def action_open_waiting(self):
        self.ensure_one()
        return self._list_action(self._waiting_domain())

    def action_map_sku(self):
        """Map the unknown SKU to a product, and offer to replay."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Map SKU %(sku)s", sku=self.key),
            "res_model": "distribution.sku.mapping",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_backend_id": self.backend_id.id,
                "default_sku": self.key,
            },
        }

    def _compute_payload_pretty(self):
        for exc in self:
            raw = exc.exchange_id.raw_body or ""
            try:
                exc.payload_pretty = json.dumps(
                    json.loads(raw), indent=2, sort_keys=True, ensure_ascii=False
                )
            except ValueError:
                exc.payload_pretty = raw

    def action_retry(self):
        """Re-run the exchanges once the cause is fixed (one job each).

        Findings (stock drifts) are not failures of their exchange: a later
        snapshot or Apply count settles them, not a retry."""
        check_group(self, USER_GROUP)
        to_retry = self.filtered(
            lambda e: e.state == "open" and e.type not in FINDING_TYPES
        )
        # one retry per exchange, however many of its exceptions are selected
        to_retry.exchange_id.action_retry()
        for exc in to_retry:
            exc.message_post(body=self.env._("Retry requested."))
        return True

    def action_open_ignore_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Ignore exceptions"),
            "res_model": "distribution.exception.ignore",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": self._name, "active_ids": self.ids},
        }

    def _ignore(self, reason):
        check_group(self, USER_GROUP)
        open_ones = self.filtered(lambda e: e.state == "open")
        open_ones.sudo().write(
            {
                "state": "ignored",
                "ignore_reason": reason,
                "resolved_at": fields.Datetime.now(),
            }
        )
        open_ones.exchange_id.action_ignore()
        return True

    def action_apply_count(self):
        """Adjust Odoo's stock to what the warehouse counted: the manager's
        approval of a stock drift.

        The difference the count found is applied to the quant of the
        location itself (no lot, package or owner) as an inventory
        adjustment, so that moves validated since the count are kept.
        """
        check_group(self, MANAGER_GROUP)
        for exc in self:
            if exc.type != "stock_drift" or exc.state != "open":
                raise UserError(
                    self.env._(
                        "%(name)s is not an open stock drift.", name=exc.display_name
                    )
                )
            exc._apply_count()
        return True

    def _apply_count(self):
        self.ensure_one()
        product, location = self.product_id, self.location_id
        # the manager's approval is the authority: stock rights not required
        quants = self.env["stock.quant"].sudo()
        quant = quants._gather(product, location, strict=True)[:1]
        if not quant:
            quant = quants.create(
                {"product_id": product.id, "location_id": location.id}
            )
        quant.write(
            {
                "inventory_quantity": quant.quantity + self.drift_qty,
                "inventory_quantity_set": True,
            }
        )
        quant.with_context(
            inventory_name=self.env._(
                "Count of %(backend)s (%(ref)s)",
                backend=self.backend_id.name,
                ref=self.external_ref or self.exchange_id.id,
            )
        )._apply_inventory()
        self.sudo().write(
            {
                "state": "resolved",
                "resolved_at": fields.Datetime.now(),
                "approved_by_id": self.env.user.id,
                "approved_at": fields.Datetime.now(),
            }
        )
        self.message_post(
            body=self.env._(
                "Count applied: %(product)s in %(location)s adjusted by %(diff)s.",
                product=product.display_name,
                location=location.display_name,
                diff=f"{self.drift_qty:+g}",
            )
        )

    # -- assignment -------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        exceptions = super().create(vals_list)
        exceptions.filtered("user_id")._schedule_review()
        return exceptions

    def write(self, vals):
        if not is_manager(self.env) and vals.keys() - USER_WRITABLE_FIELDS:
            raise AccessError(
                self.env._(
                    "Exceptions change through their actions (Retry, Ignore, "
                    "Map SKU...); a Distribution User only assigns them."
                )
            )
        result = super().write(vals)
        if vals.get("user_id"):
            self._schedule_review()
        if vals.get("state") in ("resolved", "ignored"):
            self.filtered("activity_ids").activity_feedback(
                [REVIEW_ACTIVITY],
                feedback=dict(self._fields["state"].selection)[vals["state"]],
            )
        return result

    def _schedule_review(self):
        """The assignee's To-Do, due when the backend's SLA runs out; moved to
        the new assignee on reassignment."""
        review = self.env.ref(REVIEW_ACTIVITY)
        for exc in self.filtered(lambda e: e.state == "open"):
            activities = exc.activity_ids.filtered(
                lambda a: a.activity_type_id == review
            )
            if activities:
                activities.write({"user_id": exc.user_id.id})
                continue
            exc.activity_schedule(
                REVIEW_ACTIVITY,
                date_deadline=fields.Date.to_date(exc._sla_deadline()),
                summary=self.env._("Review exception"),
                note=exc.message,
                user_id=exc.user_id.id,
            )

    def action_assign_to_me(self):
        self.write({"user_id": self.env.uid})

    def action_open_result(self):
        self.ensure_one()
        return self.exchange_id.action_open_result()

    def action_open_exchange(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "distribution.exchange",
            "res_id": self.exchange_id.id,
            "view_mode": "form",
        }
