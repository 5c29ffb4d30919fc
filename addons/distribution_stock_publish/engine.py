"""The stock publishing engine: set-based reads, the rule stack in Python,
bulk writes of the levels that changed.

One query groups the quants (and, for the forecast basis, the moves not done
yet) by product for every distinct set of sources at once; the rule stack of
``rules.py`` runs on those rows; only the levels whose number, pool or state
changed are written, by one ``UPDATE ... FROM unnest(...)`` per chunk. No
product is read through the ORM.

The class is plain Python. To change where the numbers come from (exclude
expiring lots, add a 3PL's snapshot...), override :meth:`read_stock` in a
subclass and return it from ``distribution.stock.level._stock_publish_engine``.
"""

import json
import logging
from dataclasses import dataclass, field

from odoo.tools import SQL

from .rules import PARTITION, RuleParams, Safety, apply_partition, apply_rules, number

_logger = logging.getLogger(__name__)

FREE = "free"
ON_HAND = "on_hand"
FORECAST = "forecast"

#: move states that count in the forecast (not draft, done or cancelled)
OPEN_MOVE_STATES = ("waiting", "confirmed", "partially_available", "assigned")

#: fields of ``distribution.stock.level`` written by the engine
COMPUTED_FIELDS = [
    "computed_qty",
    "pool_qty",
    "explanation",
    "state",
    "computed_at",
    "error",
]


@dataclass
class RuleSpec:
    """A publish rule as the engine needs it, read once per run."""

    id: int
    backend_id: int
    company_id: int
    basis: str
    #: ``parent_path LIKE`` patterns of the source locations, sorted
    patterns: tuple
    params: RuleParams
    shadow_mode: bool = False
    #: names of the sources, for the explanation
    sources: str = ""
    #: product id -> Safety of a product override
    product_safety: dict = field(default_factory=dict)
    #: category id -> Safety of a category override
    category_safety: dict = field(default_factory=dict)
    #: index of the rule's pool in the stock rows (set by the engine)
    pool: int = -1
    #: the rule's own safety stock
    default_safety: Safety = None

    def __post_init__(self):
        self.default_safety = Safety(
            self.params.safety_fixed, self.params.safety_percent, "rule", 0
        )

    @property
    def partition_key(self):
        """Partitioned channels split one pool when they have the same
        company, basis and sources."""
        if self.params.allocation_mode != PARTITION:
            return None
        return (self.company_id, self.basis, self.patterns)


@dataclass
class Partition:
    members: list
    #: rule id -> index in members
    index: dict


class StockPublishEngine:
    """Computes the stock levels of every channel. ``env`` is used as
    superuser: the engine reads stock across the rules' companies."""

    #: levels written per UPDATE statement
    write_chunk = 10000

    def __init__(self, env):
        self.env = env(su=True)
        self.cr = env.cr
        self._category_ancestors = None

    # -- rules -----------------------------------------------------------

    def load_rules(self, rules=None):
        """Specs of ``rules`` (default: every active publish rule)."""
        if rules is None:
            rules = self.env["distribution.publish.rule"].search(
                [("active", "=", True)]
            )
        return [self.rule_spec(rule) for rule in rules]

    def rule_spec(self, rule, rule_id=None):
        """The spec of one rule record; works on a form's unsaved record."""
        locations = rule.warehouse_ids.view_location_id | rule.location_ids
        names = rule.warehouse_ids.mapped("name") + rule.location_ids.mapped(
            "complete_name"
        )
        if not locations:
            warehouses = rule.backend_id.warehouse_ids
            locations = warehouses.view_location_id
            names = warehouses.mapped("name")
        patterns = tuple(
            sorted({f"{path}%" for path in locations.mapped("parent_path") if path})
        )
        product_safety, category_safety = {}, {}
        for override in rule.override_ids:
            if override.product_id:
                product_safety[override.product_id.id] = Safety(
                    override.safety_fixed,
                    override.safety_percent,
                    "product",
                    override.product_id.id,
                )
            elif override.categ_id:
                category_safety[override.categ_id.id] = Safety(
                    override.safety_fixed,
                    override.safety_percent,
                    "category",
                    override.categ_id.id,
                )
        return RuleSpec(
            id=rule_id if rule_id is not None else rule.id,
            backend_id=rule.backend_id.id,
            company_id=rule.company_id.id,
            basis=rule.basis,
            patterns=patterns,
            params=RuleParams(
                safety_fixed=rule.safety_fixed,
                safety_percent=rule.safety_percent,
                allocation_mode=rule.allocation_mode,
                allocation_percent=rule.allocation_percent,
                priority=rule.priority,
                floor_qty=rule.floor_qty,
                cap_qty=rule.cap_qty,
                out_of_stock_threshold=rule.out_of_stock_threshold,
                pack_size=max(1, rule.pack_size),
                key=rule_id if rule_id is not None else rule.id,
            ),
            shadow_mode=rule.shadow_mode,
            sources=", ".join(names),
            product_safety=product_safety,
            category_safety=category_safety,
        )

    def _pools(self, specs):
        """Distinct source sets: [(patterns, with_moves)]; sets spec.pool."""
        pools, index = [], {}
        for spec in specs:
            if spec.patterns not in index:
                index[spec.patterns] = len(pools)
                pools.append([spec.patterns, False])
            spec.pool = index[spec.patterns]
            if spec.basis == FORECAST:
                pools[spec.pool][1] = True
        return [tuple(pool) for pool in pools]

    @staticmethod
    def _partitions(specs):
        """rule id -> Partition of the partitioned rules."""
        groups = {}
        for spec in specs:
            key = spec.partition_key
            if key is not None:
                groups.setdefault(key, []).append(spec)
        by_rule = {}
        for members in groups.values():
            partition = Partition(
                members, {spec.id: i for i, spec in enumerate(members)}
            )
            for spec in members:
                by_rule[spec.id] = partition
        return by_rule

    # -- the hook: grouped stock rows ---------------------------------------

    def read_stock(self, pools, product_ids=None):
        """Stock of each product over each pool, grouped in SQL.

        :param pools: list of ``(patterns, with_moves)``: the ``parent_path
            LIKE`` patterns of a set of sources, and whether the forecast needs
            the moves into and out of them
        :param product_ids: restrict to these products (None: all)
        :return: ``{product_id: row}``; for pool ``k``, ``row[4k + 1]`` to
            ``row[4k + 4]`` are on hand, reserved, incoming and outgoing in
            the product's unit (internal locations under the sources only;
            incoming/outgoing: moves not done that enter or leave the set).
            Products with neither quants nor moves there are left out.
        """
        if not pools:
            return {}
        all_patterns = sorted({p for patterns, _moves in pools for p in patterns})
        if not all_patterns:
            return {}
        keys = [SQL.identifier(f"k{k}") for k in range(len(pools))]
        location_flags = SQL(", ").join(
            SQL("l.parent_path LIKE ANY(%s) AS %s", list(patterns), key)
            for (patterns, _moves), key in zip(pools, keys, strict=True)
        )
        sums = []
        for key in keys:
            sums.append(
                SQL("COALESCE(SUM(q.quantity) FILTER (WHERE loc.%s), 0)::float8", key)
            )
            sums.append(
                SQL(
                    "COALESCE(SUM(q.reserved_quantity) FILTER (WHERE loc.%s), 0)"
                    "::float8",
                    key,
                )
            )
        quant_filter = (
            SQL("WHERE q.product_id = ANY(%s)", list(product_ids))
            if product_ids is not None
            else SQL()
        )
        with_moves = [k for k, (_patterns, moves) in enumerate(pools) if moves]
        if not with_moves:
            columns = []
            for k in range(len(pools)):
                columns += [SQL("quants.%s", SQL.identifier(f"s{2 * k}"))]
                columns += [SQL("quants.%s", SQL.identifier(f"s{2 * k + 1}"))]
                columns += [SQL("0::float8"), SQL("0::float8")]
            query = SQL(
                """
                WITH loc AS (
                    SELECT l.id, %(flags)s
                    FROM stock_location l
                    WHERE l.usage = 'internal' AND l.parent_path LIKE ANY(%(all)s)
                ), quants AS (
                    SELECT q.product_id, %(sums)s
                    FROM stock_quant q
                    JOIN loc ON loc.id = q.location_id
                    %(filter)s
                    GROUP BY q.product_id
                )
                SELECT quants.product_id, %(columns)s FROM quants
                """,
                flags=location_flags,
                all=all_patterns,
                sums=self._named(sums, "s"),
                filter=quant_filter,
                columns=SQL(", ").join(columns),
            )
        else:
            query = self._stock_with_moves_query(
                pools, keys, location_flags, all_patterns, sums, product_ids
            )
        self.cr.execute(query)
        return {row[0]: row for row in self.cr.fetchall()}

    @staticmethod
    def _named(expressions, prefix):
        return SQL(", ").join(
            SQL("%s AS %s", expression, SQL.identifier(f"{prefix}{i}"))
            for i, expression in enumerate(expressions)
        )

    def _stock_with_moves_query(
        self, pools, keys, location_flags, all_patterns, sums, product_ids
    ):
        moves = []
        for k, key in enumerate(keys):
            if pools[k][1]:
                moves.append(
                    SQL(
                        "COALESCE(SUM(m.product_qty) FILTER (WHERE dst.%s "
                        "AND NOT COALESCE(src.%s, FALSE)), 0)::float8",
                        key,
                        key,
                    )
                )
                moves.append(
                    SQL(
                        "COALESCE(SUM(m.product_qty) FILTER (WHERE src.%s "
                        "AND NOT COALESCE(dst.%s, FALSE)), 0)::float8",
                        key,
                        key,
                    )
                )
            else:
                moves += [SQL("0::float8"), SQL("0::float8")]
        columns = []
        for k in range(len(pools)):
            for name in (f"s{2 * k}", f"s{2 * k + 1}"):
                columns.append(
                    SQL("COALESCE(quants.%s, 0)::float8", SQL.identifier(name))
                )
            for name in (f"m{2 * k}", f"m{2 * k + 1}"):
                columns.append(
                    SQL("COALESCE(moves.%s, 0)::float8", SQL.identifier(name))
                )
        has_products = product_ids is not None
        product_list = list(product_ids) if has_products else []
        return SQL(
            """
            WITH loc AS (
                SELECT l.id, %(flags)s
                FROM stock_location l
                WHERE l.usage = 'internal' AND l.parent_path LIKE ANY(%(all)s)
            ), quants AS (
                SELECT q.product_id, %(sums)s
                FROM stock_quant q
                JOIN loc ON loc.id = q.location_id
                WHERE (NOT %(has_products)s OR q.product_id = ANY(%(products)s))
                GROUP BY q.product_id
            ), moves AS (
                SELECT m.product_id, %(moves)s
                FROM stock_move m
                LEFT JOIN loc src ON src.id = m.location_id
                LEFT JOIN loc dst ON dst.id = m.location_dest_id
                WHERE m.state IN %(states)s
                  AND (src.id IS NOT NULL OR dst.id IS NOT NULL)
                  AND (NOT %(has_products)s OR m.product_id = ANY(%(products)s))
                GROUP BY m.product_id
            )
            SELECT COALESCE(quants.product_id, moves.product_id), %(columns)s
            FROM quants
            FULL OUTER JOIN moves ON moves.product_id = quants.product_id
            """,
            flags=location_flags,
            all=all_patterns,
            sums=self._named(sums, "s"),
            moves=self._named(moves, "m"),
            states=OPEN_MOVE_STATES,
            has_products=has_products,
            products=product_list,
            columns=SQL(", ").join(columns),
        )

    # -- evaluation ----------------------------------------------------------

    @staticmethod
    def pool_of(spec, row):
        """The basis quantity of ``spec`` in a stock row (0 without row)."""
        if row is None:
            return 0.0
        base = 4 * spec.pool + 1
        if spec.basis == FREE:
            return row[base] - row[base + 1]
        if spec.basis == ON_HAND:
            return row[base]
        return row[base] + row[base + 2] - row[base + 3]

    def _category_chain(self, categ_id):
        """The category and its ancestors, nearest first."""
        if self._category_ancestors is None:
            self.cr.execute(SQL("SELECT id, parent_path FROM product_category"))
            self._category_ancestors = {
                cid: [int(part) for part in (path or "").split("/") if part][::-1]
                for cid, path in self.cr.fetchall()
            }
        return self._category_ancestors.get(categ_id, [categ_id])

    def safety_for(self, spec, product_id, categ_id):
        """Most specific wins: product override, nearest category override,
        then the rule."""
        safety = spec.product_safety.get(product_id)
        if safety is not None:
            return safety
        if spec.category_safety and categ_id:
            for ancestor in self._category_chain(categ_id):
                safety = spec.category_safety.get(ancestor)
                if safety is not None:
                    return safety
        return spec.default_safety

    def evaluate(self, spec, partition, product_id, row, archived, categ_id, memo):
        """(pool, quantity, steps) of one product on one channel.

        ``memo`` caches the pure rule stack by its inputs: many products share
        the same pool and safety stock, and the functions are pure.
        """
        pool = 0.0 if archived else self.pool_of(spec, row)
        if partition is None:
            safety = self.safety_for(spec, product_id, categ_id)
            key = (spec.id, pool, safety)
            result = memo.get(key)
            if result is None:
                result = memo[key] = apply_rules(pool, spec.params, safety)
            return pool, result[0], result[1]
        safeties = tuple(
            self.safety_for(member, product_id, categ_id)
            for member in partition.members
        )
        key = (partition.members[0].id, pool, safeties)
        results = memo.get(key)
        if results is None:
            results = memo[key] = apply_partition(
                pool,
                [
                    (member.params, safety)
                    for member, safety in zip(partition.members, safeties, strict=True)
                ],
            )
        qty, steps = results[partition.index[spec.id]]
        return pool, qty, steps

    def explanation(self, spec, row, archived, steps):
        """The steps with the pool's details, as a list of dicts."""
        pool_step = dict(steps[0], basis=spec.basis, sources=spec.sources)
        if archived:
            pool_step["archived"] = True
        elif row is not None:
            base = 4 * spec.pool + 1
            pool_step["on_hand"] = number(round(row[base], 6))
            if spec.basis == FREE:
                pool_step["reserved"] = number(round(row[base + 1], 6))
            elif spec.basis == FORECAST:
                pool_step["incoming"] = number(round(row[base + 2], 6))
                pool_step["outgoing"] = number(round(row[base + 3], 6))
        return [pool_step, *steps[1:]]

    def _products_info(self, product_ids, need_categories):
        """(archived product ids, {product id: category id} or {})."""
        restrict = (
            SQL("AND pp.id = ANY(%s)", list(product_ids))
            if product_ids is not None
            else SQL()
        )
        self.cr.execute(
            SQL(
                "SELECT pp.id FROM product_product pp WHERE pp.active IS NOT TRUE %s",
                restrict,
            )
        )
        archived = {row[0] for row in self.cr.fetchall()}
        categories = {}
        if need_categories:
            self.cr.execute(
                SQL(
                    """
                    SELECT pp.id, pt.categ_id
                    FROM product_product pp
                    JOIN product_template pt ON pt.id = pp.product_tmpl_id
                    WHERE TRUE %s
                    """,
                    restrict,
                )
            )
            categories = dict(self.cr.fetchall())
        return archived, categories

    # -- levels ----------------------------------------------------------------

    def ensure_levels(self, specs=None, product_ids=None):
        """Create the missing levels, dirty, in one INSERT ... SELECT.

        A (product, channel) gets a level when the product has a quant under
        the rule's sources (or, for the forecast basis, a move not done into
        or out of them), or when :meth:`extra_level_products` names it.
        """
        self.env.flush_all()
        specs = self.load_rules() if specs is None else specs
        rule_ids, patterns, forecast_ids, forecast_patterns = [], [], [], []
        for spec in specs:
            for pattern in spec.patterns:
                rule_ids.append(spec.id)
                patterns.append(pattern)
                if spec.basis == FORECAST:
                    forecast_ids.append(spec.id)
                    forecast_patterns.append(pattern)
        if not rule_ids:
            return 0
        has_products = product_ids is not None
        products = list(product_ids) if has_products else []
        found = SQL(
            """
            SELECT q.product_id, src.rule_id
            FROM unnest(%(rules)s::int[], %(patterns)s::varchar[])
                AS src(rule_id, pattern)
            JOIN stock_location l
                ON l.parent_path LIKE src.pattern AND l.usage = 'internal'
            JOIN stock_quant q ON q.location_id = l.id
            WHERE (NOT %(has_products)s OR q.product_id = ANY(%(products)s))
            """,
            rules=rule_ids,
            patterns=patterns,
            has_products=has_products,
            products=products,
        )
        if forecast_ids:
            found = SQL(
                """%(found)s
                UNION
                SELECT m.product_id, src.rule_id
                FROM unnest(%(rules)s::int[], %(patterns)s::varchar[])
                    AS src(rule_id, pattern)
                JOIN stock_location l
                    ON l.parent_path LIKE src.pattern AND l.usage = 'internal'
                JOIN stock_move m
                    ON m.location_id = l.id OR m.location_dest_id = l.id
                WHERE m.state IN %(states)s
                  AND (NOT %(has_products)s OR m.product_id = ANY(%(products)s))
                """,
                found=found,
                rules=forecast_ids,
                patterns=forecast_patterns,
                states=OPEN_MOVE_STATES,
                has_products=has_products,
                products=products,
            )
        extra = self.extra_level_products(specs, product_ids)
        if extra:
            found = SQL(
                "%s UNION SELECT * FROM unnest(%s::int[], %s::int[])",
                found,
                [product for product, _rule in extra],
                [rule for _product, rule in extra],
            )
        self.cr.execute(
            SQL(
                """
                INSERT INTO distribution_stock_level (
                    product_id, backend_id, rule_id, company_id, state,
                    create_uid, create_date, write_uid, write_date)
                SELECT found.product_id, r.backend_id, r.id, r.company_id, 'dirty',
                       %(uid)s, now() AT TIME ZONE 'UTC',
                       %(uid)s, now() AT TIME ZONE 'UTC'
                FROM (SELECT DISTINCT * FROM (%(found)s) AS f)
                    AS found(product_id, rule_id)
                JOIN distribution_publish_rule r ON r.id = found.rule_id
                JOIN product_product pp ON pp.id = found.product_id
                JOIN product_template pt ON pt.id = pp.product_tmpl_id
                WHERE pt.is_storable
                  AND (pt.company_id IS NULL OR pt.company_id = r.company_id)
                ON CONFLICT (backend_id, product_id) DO NOTHING
                """,
                uid=self.env.uid,
                found=found,
            )
        )
        return self.cr.rowcount

    def extra_level_products(self, specs, product_ids=None):
        """Hook: more ``(product id, rule id)`` pairs that need a level even
        without stock (e.g. products bound to the channel). None here."""
        return []

    def recompute(self, product_ids=None, rule_ids=None, level_ids=None, specs=None):
        """Recompute levels and write the ones that changed.

        :param product_ids: only the levels of these products
        :param rule_ids: only the levels of these rules
        :param level_ids: only these levels
        :return: dict of counts: ``levels`` computed, ``written``
        """
        # stock changes of this very transaction first
        self.env["distribution.stock.level"]._flush_dirty_marks()
        self.env.flush_all()
        specs = self.load_rules() if specs is None else specs
        if not specs:
            return {"levels": 0, "written": 0}
        by_id = {spec.id: spec for spec in specs}
        pools = self._pools(specs)
        partitions = self._partitions(specs)
        wanted = set(rule_ids) if rule_ids is not None else set(by_id)
        filters = [SQL("l.rule_id = ANY(%s)", [rid for rid in by_id if rid in wanted])]
        if product_ids is not None:
            filters.append(SQL("l.product_id = ANY(%s)", list(product_ids)))
        if level_ids is not None:
            filters.append(SQL("l.id = ANY(%s)", list(level_ids)))
        self.cr.execute(
            SQL(
                """
                SELECT l.id, l.product_id, l.rule_id, l.computed_qty, l.pool_qty,
                       l.state
                FROM distribution_stock_level l
                WHERE %s
                """,
                SQL(" AND ").join(filters),
            )
        )
        levels = self.cr.fetchall()
        if not levels:
            return {"levels": 0, "written": 0}
        if product_ids is None and (rule_ids is not None or level_ids is not None):
            product_ids = {level[1] for level in levels}
        stock = self.read_stock(pools, product_ids)
        need_categories = any(spec.category_safety for spec in specs)
        archived, categories = self._products_info(product_ids, need_categories)
        memo, tails, changed = {}, {}, []
        for level_id, product_id, rule_id, old_qty, old_pool, state in levels:
            spec = by_id[rule_id]
            row = stock.get(product_id)
            is_archived = product_id in archived
            pool, qty, steps = self.evaluate(
                spec,
                partitions.get(rule_id),
                product_id,
                row,
                is_archived,
                categories.get(product_id),
                memo,
            )
            if state == "dirty" or old_qty != qty or old_pool != pool:
                changed.append(
                    (
                        level_id,
                        qty,
                        pool,
                        self._explanation_json(spec, row, is_archived, steps, tails),
                    )
                )
        self.write_levels(changed)
        return {"levels": len(levels), "written": len(changed)}

    def _explanation_json(self, spec, row, archived, steps, tails):
        """JSON text of the explanation; the part after the pool is shared by
        every product with the same inputs, so it is serialized once."""
        tail = tails.get(id(steps))
        if tail is None:
            tail = tails[id(steps)] = (
                "".join("," + json.dumps(step) for step in steps[1:]),
                steps,  # keeps id(steps) alive and unique
            )
        head = json.dumps(self.explanation(spec, row, archived, steps[:1])[0])
        return f"[{head}{tail[0]}]"

    def write_levels(self, changed):
        """Write ``(level id, quantity, pool, explanation JSON)`` rows in bulk.

        A written level becomes clean (an exporting one stays exporting: its
        export job sends the new number).
        """
        for start in range(0, len(changed), self.write_chunk):
            chunk = changed[start : start + self.write_chunk]
            ids, qtys, pools, texts = (list(column) for column in zip(*chunk))
            self.cr.execute(
                SQL(
                    """
                    UPDATE distribution_stock_level l
                    SET computed_qty = v.qty,
                        pool_qty = v.pool,
                        explanation = v.explanation::jsonb,
                        state = CASE WHEN l.state = 'exporting'
                                     THEN 'exporting' ELSE 'clean' END,
                        error = CASE WHEN l.state = 'exporting'
                                     THEN l.error END,
                        computed_at = now() AT TIME ZONE 'UTC',
                        write_date = now() AT TIME ZONE 'UTC',
                        write_uid = %s
                    FROM unnest(%s::int[], %s::float8[], %s::float8[], %s::text[])
                        AS v(id, qty, pool, explanation)
                    WHERE l.id = v.id
                    """,
                    self.env.uid,
                    ids,
                    qtys,
                    pools,
                    texts,
                )
            )
        if changed:
            self.env["distribution.stock.level"].invalidate_model(
                [*COMPUTED_FIELDS, "write_date", "write_uid"]
            )

    # -- preview -----------------------------------------------------------------

    def preview(self, product, specs):
        """Each channel's result for one product: list of dicts with ``spec``,
        ``pool``, ``quantity`` and ``steps`` (the explanation)."""
        self.env.flush_all()
        pools = self._pools(specs)
        partitions = self._partitions(specs)
        row = self.read_stock(pools, [product.id]).get(product.id)
        archived = not product.active
        memo, results = {}, []
        for spec in specs:
            pool, qty, steps = self.evaluate(
                spec,
                partitions.get(spec.id),
                product.id,
                row,
                archived,
                product.categ_id.id,
                memo,
            )
            results.append(
                {
                    "spec": spec,
                    "pool": pool,
                    "quantity": qty,
                    "steps": self.explanation(spec, row, archived, steps),
                }
            )
        return results

    def stock_by_warehouse(self, product):
        """(warehouse name, on hand, reserved) of one product, for display."""
        self.cr.execute(
            SQL(
                """
                SELECT COALESCE(w.name, l.complete_name),
                       SUM(q.quantity)::float8, SUM(q.reserved_quantity)::float8
                FROM stock_quant q
                JOIN stock_location l ON l.id = q.location_id
                LEFT JOIN stock_warehouse w ON w.id = l.warehouse_id
                WHERE q.product_id = %s AND l.usage = 'internal'
                GROUP BY 1
                ORDER BY 1
                """,
                product.id,
            )
        )
        return self.cr.fetchall()
