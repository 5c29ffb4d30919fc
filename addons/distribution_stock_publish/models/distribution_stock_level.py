from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import StockPublishEngine

#: the mark table of the products to recompute (see the sweep)
MARK_TABLE = "distribution_stock_level_mark"
#: percent of each page of the levels' table filled by inserts (see init())
LEVEL_FILLFACTOR = 80

STATES = [
    ("dirty", "Dirty"),
    ("clean", "Clean"),
    ("exporting", "Exporting"),
    ("error", "Error"),
]


class DistributionStockLevel(models.Model):
    """What one channel may sell of one product, and why.

    ``computed_qty`` is what the rule stack allows now, ``published_qty``
    what the channel confirmed last. States: *dirty* (stock or rule changed,
    to recompute), *clean* (computed; exported when it differs from the
    published number), *exporting* (an export job holds it), *error* (the
    last export failed; see ``error``).

    Here: the fields and the explanation. The dirty marks and the sweep are
    in ``distribution_stock_level_sweep.py``, the export in
    ``distribution_stock_level_export.py``.
    """

    _name = "distribution.stock.level"
    _description = "Stock level published to a channel"
    _order = "backend_id, product_id"

    # product_id is indexed by the unique (product_id, backend_id): a sweep
    # reads and writes the levels of its products together, whose entries
    # share a page of that index. backend_id alone is looked up through the
    # partial indexes of the export; rules and backends go one to one, and
    # company ids are not selective: fewer indexes keep the bulk writes cheap
    product_id = fields.Many2one(
        "product.product", required=True, ondelete="cascade", readonly=True
    )
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
    basis_qty = fields.Float(
        string="Basis",
        readonly=True,
        help="The number the channel should show once every order it sent "
        "is received: what it confirmed last, less its orders received since. "
        "An export sends the channel's number plus the computed quantity "
        "minus the basis, so that sales the channel made and Odoo has not "
        "received yet are not erased.",
    )
    export_claim = fields.Char(
        readonly=True,
        copy=False,
        help="The export holding this level while it calls the channel.",
    )
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
        "UNIQUE(product_id, backend_id)",
        "A product has one stock level per channel.",
    )
    # a stored flag rather than "computed_qty IS DISTINCT FROM published_qty":
    # PostgreSQL estimates a boolean, so it picks these small indexes. No
    # index holds a column a sweep writes without handing the level over to
    # export (numbers, explanation, dates): that write stays on the row's
    # page and touches no index (a HOT update), see init(). Stock changes
    # never make a level dirty (they mark its product, see the sweep): only
    # rule changes and levels created uncomputed do
    _dirty_idx = models.Index("(product_id) WHERE state = 'dirty'")
    _to_export_idx = models.Index("(backend_id) WHERE state = 'clean' AND differs")
    _exporting_idx = models.Index("(backend_id) WHERE state = 'exporting'")

    def init(self):
        result = super().init()
        # room on each page for a new version of its levels: a sweep's write
        # that changes no indexed column is then a HOT update
        self.env.cr.execute(
            SQL(
                "ALTER TABLE distribution_stock_level SET (fillfactor = %s)",
                LEVEL_FILLFACTOR,
            )
        )
        return result

    to_recompute = fields.Boolean(
        string="To recompute",
        compute="_compute_to_recompute",
        search="_search_to_recompute",
        help="The rule changed (dirty) or the product's stock changed since "
        "the level was computed: the next sweep recomputes it.",
    )

    @api.depends("backend_id", "product_id")
    def _compute_display_name(self):
        for level in self:
            level.display_name = (
                f"{level.backend_id.name or ''} / {level.product_id.display_name or ''}"
            )

    @api.depends("computed_qty", "published_qty", "published_at", "basis_qty")
    def _compute_differs(self):
        bases = self._bases()
        for level in self:
            level.differs = not level.published_at or level.computed_qty != bases.get(
                level.id, level.basis_qty
            )

    def _bases(self):
        """{level id: basis} of the stored levels; a level published before
        the basis existed has its published quantity as basis."""
        ids = [level_id for level_id in self.ids if isinstance(level_id, int)]
        if not ids:
            return {}
        self.flush_model(["basis_qty", "published_qty"])
        self.env.cr.execute(
            "SELECT id, COALESCE(basis_qty, published_qty) FROM "
            "distribution_stock_level WHERE id = ANY(%s)",
            [ids],
        )
        return {level_id: basis or 0.0 for level_id, basis in self.env.cr.fetchall()}

    @api.depends("state", "computed_at")
    def _compute_to_recompute(self):
        marked = self._marked_level_ids()
        for level in self:
            level.to_recompute = level.state == "dirty" or level.id in marked

    def _search_to_recompute(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        marked = SQL(
            "SELECT l.id FROM distribution_stock_level l WHERE %s",
            self._marked_since_computed(),
        )
        pending = ["|", ("state", "=", "dirty"), ("id", "in", marked)]
        return pending if (operator == "=") == value else ["!", *pending]

    def _marked_level_ids(self):
        """Ids of these levels whose product was marked since they were
        computed (the sweep has not taken the mark yet)."""
        ids = [level_id for level_id in self.ids if isinstance(level_id, int)]
        if not ids:
            return set()
        self.flush_model(["computed_at"])
        self.env.cr.execute(
            SQL(
                "SELECT l.id FROM distribution_stock_level l "
                "WHERE l.id = ANY(%s) AND %s",
                ids,
                self._marked_since_computed(),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _marked_since_computed(self):
        """SQL condition on a level ``l``: its product was marked after the
        level was computed."""
        return SQL(
            "EXISTS (SELECT 1 FROM %s m WHERE m.product_id = l.product_id "
            "AND (l.computed_at IS NULL OR m.marked_at > l.computed_at))",
            SQL.identifier(MARK_TABLE),
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
                    "free = on hand %(on_hand)s - reserved %(reserved)s - "
                    "confirmed demand not reserved %(demand)s - channel quotations "
                    "%(quoted)s - channel orders in the inbox %(backlog)s",
                    on_hand=step.get("on_hand", 0),
                    reserved=step.get("reserved", 0),
                    demand=step.get("demand", 0),
                    quoted=step.get("quoted", 0),
                    backlog=step.get("backlog", 0),
                )
            elif basis == "forecast":
                detail = self.env._(
                    "forecast = on hand %(on_hand)s + incoming %(incoming)s - "
                    "outgoing %(outgoing)s - channel quotations %(quoted)s - "
                    "channel orders in the inbox %(backlog)s",
                    on_hand=step.get("on_hand", 0),
                    incoming=step.get("incoming", 0),
                    outgoing=step.get("outgoing", 0),
                    quoted=step.get("quoted", 0),
                    backlog=step.get("backlog", 0),
                )
            else:
                detail = self.env._(
                    "on hand %(on_hand)s", on_hand=step.get("on_hand", 0)
                )
            sources = step.get("sources") or self.env._("no source")
            if step.get("no_stock"):
                return self.env._(
                    "No stock in the sources (%(sources)s): publish 0 (%(detail)s)",
                    sources=sources,
                    detail=detail,
                )
            return self.env._(
                "Pool in %(sources)s: %(detail)s", sources=sources, detail=detail
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
