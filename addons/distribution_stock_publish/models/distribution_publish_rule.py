from collections import defaultdict

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    check_group,
)

from ..engine.query import sources_overlap
from ..engine.rules import number

#: fields whose change alters the computed quantities
COMPUTE_FIELDS = {
    "active",
    "backend_id",
    "basis",
    "warehouse_ids",
    "location_ids",
    "safety_fixed",
    "safety_percent",
    "allocation_mode",
    "allocation_percent",
    "priority",
    "floor_qty",
    "cap_qty",
    "out_of_stock_threshold",
    "pack_size",
}


class DistributionPublishRule(models.Model):
    """How much of our stock one channel may sell.

    One rule per backend. See ``rules.py`` for the exact order and meaning
    of the steps, and the addon's readme for the business view.
    """

    _name = "distribution.publish.rule"
    _description = "Stock publishing rule of a channel"
    _inherit = ["mail.thread"]
    _order = "priority, id"
    _rec_name = "backend_id"

    backend_id = fields.Many2one(
        "distribution.backend",
        string="Channel",
        required=True,
        ondelete="cascade",
        index=True,
        tracking=True,
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    active = fields.Boolean(default=True, tracking=True)
    shadow_mode = fields.Boolean(
        tracking=True,
        help="Compute and store the levels, never export them: to try a rule "
        "out before letting it drive the channel.",
    )
    basis = fields.Selection(
        [
            ("free", "Free (on hand - reserved)"),
            ("on_hand", "On hand"),
            ("forecast", "Forecast (on hand + incoming - outgoing)"),
        ],
        required=True,
        default="free",
        tracking=True,
    )
    warehouse_ids = fields.Many2many(
        "stock.warehouse",
        string="Source warehouses",
        check_company=True,
        help="Stock of the internal locations of these warehouses counts. "
        "Without warehouse or location, the channel's served warehouses.",
    )
    location_ids = fields.Many2many(
        "stock.location",
        string="Source locations",
        check_company=True,
        domain="[('usage', '=', 'internal')]",
        help="Stock of these internal locations and their sub-locations counts.",
    )
    safety_fixed = fields.Float(
        string="Safety stock (units)",
        tracking=True,
        help="Units kept back from the channel.",
    )
    safety_percent = fields.Float(
        string="Safety stock (% of the pool)",
        tracking=True,
        help="Percentage of the pool kept back, added to the units.",
    )
    override_ids = fields.One2many(
        "distribution.publish.rule.override",
        "rule_id",
        string="Safety stock overrides",
        copy=True,
        help="Per product or product category; the most specific wins.",
    )
    allocation_mode = fields.Selection(
        [("shared", "Shared pool"), ("partition", "Hard partition")],
        required=True,
        default="shared",
        tracking=True,
        help="Shared pool: the channel sees its percentage of the available "
        "stock, other channels may see the same units. Hard partition: the "
        "channels in partition mode with the same sources split the pool; "
        "together they never get more than the pool.",
    )
    allocation_percent = fields.Float(string="Share (%)", default=100.0, tracking=True)
    priority = fields.Integer(
        default=10,
        tracking=True,
        help="Hard partition: rounding leftovers and floors are served to the "
        "lowest number first.",
    )
    floor_qty = fields.Float(
        string="Minimum floor",
        tracking=True,
        help="Publish at least this many units when the stock allows.",
    )
    cap_qty = fields.Float(
        string="Maximum cap", tracking=True, help="Publish at most this (0: no cap)."
    )
    out_of_stock_threshold = fields.Float(
        tracking=True, help="Below this quantity, publish 0."
    )
    pack_size = fields.Integer(
        default=1,
        tracking=True,
        help="Publish a multiple of this (rounded down).",
    )
    level_count = fields.Integer(compute="_compute_level_counts")
    dirty_count = fields.Integer(compute="_compute_level_counts")
    error_count = fields.Integer(compute="_compute_level_counts")
    differs_count = fields.Integer(compute="_compute_level_counts")

    preview_product_id = fields.Many2one(
        "product.product",
        string="Preview product",
        compute="_compute_preview_product_id",
        inverse="_inverse_preview_product_id",
        readonly=False,
        help="Pick a product to see each step and the result on every channel, "
        "with the values on screen.",
    )
    preview_html = fields.Html(
        string="Preview", compute="_compute_preview_html", sanitize=False
    )

    _backend_unique = models.Constraint(
        "UNIQUE(backend_id)", "A channel has one publish rule."
    )
    _percent_range = models.Constraint(
        "CHECK(allocation_percent >= 0 AND allocation_percent <= 100 "
        "AND safety_percent >= 0 AND safety_percent <= 100)",
        "Percentages go from 0 to 100.",
    )
    _quantities_positive = models.Constraint(
        "CHECK(safety_fixed >= 0 AND floor_qty >= 0 AND cap_qty >= 0 "
        "AND out_of_stock_threshold >= 0)",
        "Safety stock, floor, cap and threshold cannot be negative.",
    )
    _pack_size_positive = models.Constraint(
        "CHECK(pack_size >= 1)", "The pack size is at least 1."
    )
    _floor_below_cap = models.Constraint(
        "CHECK(cap_qty = 0 OR floor_qty <= cap_qty)",
        "The floor cannot be above the cap.",
    )

    @api.constrains(
        "active",
        "allocation_mode",
        "basis",
        "warehouse_ids",
        "location_ids",
        "backend_id",
    )
    def _check_partition_sources(self):
        """Channels in hard partition split one pool only when they have the
        same company, basis and sources: partitions whose sources overlap
        otherwise would each offer the same units. Refused on save, with the
        channels named."""
        partitioned = self.filtered(
            lambda rule: rule.active and rule.allocation_mode == "partition"
        )
        if not partitioned:
            return
        engine = self.env["distribution.stock.level"]._stock_publish_engine()
        others = (
            self.sudo().search(
                [("active", "=", True), ("allocation_mode", "=", "partition")]
            )
            | partitioned.sudo()
        )
        specs = {rule.id: engine.rule_spec(rule) for rule in others}
        for rule in partitioned:
            spec = specs[rule.id]
            for other in others:
                other_spec = specs[other.id]
                if other == rule or other_spec.partition_key == spec.partition_key:
                    continue
                if sources_overlap(spec.patterns, other_spec.patterns):
                    raise ValidationError(
                        self.env._(
                            "%(channel)s and %(other)s are hard partitions over "
                            "stock they share (%(sources)s and %(other_sources)s) "
                            "but not with the same basis and sources: each would "
                            "split the shared units on its own, and the same units "
                            "would be offered twice. Give both the same sources "
                            "and basis (they then split one pool), sources that do "
                            "not overlap, or use a shared pool.",
                            channel=rule.backend_id.display_name,
                            other=other.backend_id.display_name,
                            sources=spec.sources or self.env._("no source"),
                            other_sources=other_spec.sources or self.env._("no source"),
                        )
                    )

    def _compute_level_counts(self):
        Level = self.env["distribution.stock.level"]
        counts = defaultdict(int)
        for rule, state, count in Level._read_group(
            [("rule_id", "in", self.ids)], ["rule_id", "state"], ["__count"]
        ):
            counts[rule.id, state] += count
            counts[rule.id, "all"] += count
        differs, dirty = (
            dict(
                Level._read_group(
                    [("rule_id", "in", self.ids), (field, "=", True)],
                    ["rule_id"],
                    ["__count"],
                )
            )
            for field in ("differs", "to_recompute")
        )
        for rule in self:
            rule.level_count = counts[rule.id, "all"]
            rule.dirty_count = dirty.get(rule, 0)
            rule.error_count = counts[rule.id, "error"]
            rule.differs_count = differs.get(rule, 0)

    def _compute_preview_product_id(self):
        for rule in self:
            rule.preview_product_id = False

    def _inverse_preview_product_id(self):
        """The preview product is only a way to look: nothing to store."""

    @api.depends(
        "preview_product_id",
        "backend_id",
        "active",
        "basis",
        "warehouse_ids",
        "location_ids",
        "safety_fixed",
        "safety_percent",
        "override_ids.product_id",
        "override_ids.categ_id",
        "override_ids.safety_fixed",
        "override_ids.safety_percent",
        "allocation_mode",
        "allocation_percent",
        "priority",
        "floor_qty",
        "cap_qty",
        "out_of_stock_threshold",
        "pack_size",
    )
    def _compute_preview_html(self):
        for rule in self:
            product = rule.preview_product_id
            rule.preview_html = (
                rule._render_preview(product) if product and rule.backend_id else False
            )

    def _preview(self, product):
        """Each channel's result for ``product``, with this rule as on screen
        and the company's other active rules as saved: list of dicts."""
        self.ensure_one()
        Level = self.env["distribution.stock.level"]
        engine = Level._stock_publish_engine()
        others = (
            self.env["distribution.publish.rule"]
            .sudo()
            .search(
                [
                    ("active", "=", True),
                    ("company_id", "=", self.company_id.id),
                    ("id", "!=", self._origin.id),
                ]
            )
        )
        specs = engine.load_rules(others)
        own = engine.rule_spec(self, rule_id=self._origin.id or 0)
        specs.insert(0, own)
        return engine.preview(product, specs), engine.stock_by_warehouse(product)

    def _render_preview(self, product):
        results, stock = self._preview(product)
        Level = self.env["distribution.stock.level"]
        backends = {
            backend.id: backend.display_name
            for backend in self.env["distribution.backend"]
            .sudo()
            .browse([r["spec"].backend_id for r in results])
        }
        parts = [Markup("<div class='o_distribution_preview'>")]
        if stock:
            columns = [
                ("on_hand", self.env._("On hand")),
                ("reserved", self.env._("Reserved")),
                ("demand", self.env._("Confirmed, not reserved")),
                ("quoted", self.env._("Channel quotations")),
                ("backlog", self.env._("Channel orders in the inbox")),
            ]
            cell = Markup("<td class='text-end'>%s</td>")
            lines = Markup("").join(
                Markup("<tr><td>%s</td>%s</tr>")
                % (
                    name,
                    Markup("").join(
                        cell % number(values[key]) for key, _label in columns
                    ),
                )
                for name, values in stock
            )
            heads = Markup("").join(
                Markup("<th class='text-end'>%s</th>") % label
                for _key, label in columns
            )
            parts.append(
                Markup(
                    "<table class='table table-sm'><thead><tr><th>%s</th>%s"
                    "</tr></thead><tbody>%s</tbody></table>"
                )
                % (self.env._("Warehouse"), heads, lines)
            )
        else:
            parts.append(
                Markup("<p>%s</p>")
                % self.env._("No stock and nothing promised in any warehouse.")
            )
        for result in results:
            spec = result["spec"]
            title = backends.get(spec.backend_id, "")
            if spec.id == (self._origin.id or 0):
                title = self.env._("%(channel)s (this rule)", channel=title)
            if spec.shadow_mode:
                title = self.env._("%(channel)s, shadow mode", channel=title)
            parts.append(
                Markup("<h5 class='mt-3'>%s: <strong>%s</strong></h5>")
                % (title, result["quantity"])
            )
            parts.append(Level._explanation_html(result["steps"]))
        parts.append(Markup("</div>"))
        return Markup("").join(parts)

    # -- dirty tracking -------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        rules._mark_dirty()
        return rules

    def write(self, vals):
        peers_before = self._partition_peers(self)
        if "backend_id" in vals:
            # levels belong to one channel: the new one gets levels of its own
            self.env["distribution.stock.level"].sudo().search(
                [("rule_id", "in", self.ids)]
            ).unlink()
        res = super().write(vals)
        if COMPUTE_FIELDS & vals.keys():
            (self | peers_before)._mark_dirty()
        elif "shadow_mode" in vals:
            # leaving shadow mode: the next sweep exports the differences
            self.env["distribution.stock.level"]._enqueue_sweep()
        return res

    def unlink(self):
        peers = self._partition_peers(self.filtered("active"))
        res = super().unlink()
        peers.exists()._mark_dirty()
        return res

    def _partition_peers(self, rules):
        """Active partitioned rules of the same companies as ``rules``."""
        partitioned = rules.filtered(lambda rule: rule.allocation_mode == "partition")
        if not partitioned:
            return self.browse()
        return (
            self.sudo()
            .search(
                [
                    ("allocation_mode", "=", "partition"),
                    ("company_id", "in", partitioned.company_id.ids),
                    ("id", "not in", rules.ids),
                ]
            )
            .with_env(self.env)
        )

    def _mark_dirty(self, product_ids=None):
        """The rules' levels (and their partition peers') become dirty."""
        rules = self | self._partition_peers(self)
        if rules:
            self.env["distribution.stock.level"]._mark_rules_dirty(
                rules.ids, product_ids=product_ids
            )

    # -- actions -------------------------------------------------------------------

    def action_recompute_now(self):
        """Recompute every level of these rules now, export what changed."""
        check_group(self, MANAGER_GROUP)
        Level = self.env["distribution.stock.level"].sudo()
        engine = Level._stock_publish_engine()
        rules = self.sudo().filtered("active")
        specs = engine.load_rules()
        engine.ensure_levels([s for s in specs if s.id in rules.ids])
        stats = engine.recompute(rule_ids=rules.ids, specs=specs)
        jobs = Level._enqueue_exports()
        return self._notify(
            self.env._(
                "%(levels)s levels recomputed, %(written)s changed, "
                "%(jobs)s export jobs queued.",
                levels=stats["levels"],
                written=stats["written"],
                jobs=jobs,
            )
        )

    def action_publish_now(self):
        """Export now what differs from the published numbers."""
        check_group(self, MANAGER_GROUP)
        Level = self.env["distribution.stock.level"].sudo()
        ids = Level.search(
            [
                ("rule_id", "in", self.ids),
                ("state", "in", ("clean", "error")),
                ("differs", "=", True),
            ]
        ).ids
        jobs = Level._enqueue_exports(level_ids=ids, force=True)
        return self._notify(self.env._("%(jobs)s export jobs queued.", jobs=jobs))

    def _notify(self, message):
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

    def _action_levels(self, domain):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_stock_publish.action_distribution_stock_level"
        )
        action["domain"] = [("rule_id", "=", self.id), *domain]
        action["context"] = {}
        return action

    def action_view_levels(self):
        return self._action_levels([])

    def action_view_dirty_levels(self):
        return self._action_levels([("to_recompute", "=", True)])

    def action_view_error_levels(self):
        return self._action_levels([("state", "=", "error")])

    def action_view_differs_levels(self):
        return self._action_levels([("differs", "=", True)])
