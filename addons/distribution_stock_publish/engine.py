"""The stock publishing engine: set-based reads, the rule stack in Python,
bulk writes of the levels that changed.

One query groups the quants (and, for the forecast basis, the moves not done
yet) by product for every distinct set of sources at once; the rule stack of
``rules.py`` runs once per rule and distinct input (pool, safety stock); the
levels are compared with those results in SQL, and only the ones whose
number, pool or state changed are explained and written, by one
``UPDATE ... FROM unnest(...)`` per chunk. No product is read through the ORM.

The class is plain Python. To change where the numbers come from (exclude
expiring lots, add a 3PL's snapshot...), override :meth:`stock_query` in a
subclass and return it from ``distribution.stock.level._stock_publish_engine``.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter, ne, or_

from odoo.tools import SQL
from odoo.tools.gc import disabling_gc

from .rules import PARTITION, RuleParams, Safety, apply_partition, apply_rules, number

FREE = "free"
ON_HAND = "on_hand"
FORECAST = "forecast"

#: move states that count in the forecast (not draft, done or cancelled)
OPEN_MOVE_STATES = ("waiting", "confirmed", "partially_available", "assigned")

#: fields of ``distribution.stock.level`` written by the engine
COMPUTED_FIELDS = [
    "computed_qty",
    "differs",
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
    #: columns of the rule's pool in the stock rows: measure -> index (set by
    #: the engine)
    columns: dict = field(default_factory=dict)
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
class Pool:
    """One set of sources and what the rules on it need to know."""

    patterns: tuple
    #: measures among on_hand, reserved, incoming, outgoing
    measures: list
    #: measure -> column index in the stock rows (set by read_stock's layout)
    columns: dict = field(default_factory=dict)


@dataclass
class Partition:
    members: list
    #: rule id -> index in members
    index: dict
    #: key (pool, safeties...) -> results of apply_partition (set by the
    #: engine's evaluators)
    memo: dict = None
    #: key_of(product_id, pool) -> the key in memo (None: the pool)
    key_of: object = None


class StockPublishEngine:
    """Computes the stock levels of every channel. ``env`` is used as
    superuser: the engine reads stock across the rules' companies."""

    #: levels written per UPDATE statement
    write_chunk = 10000
    #: PostgreSQL work_mem while grouping the stock of the catalog
    work_mem = "64MB"

    def __init__(self, env):
        self.env = env(su=True)
        self.cr = env.cr
        self._category_ancestors = None
        self._resolved_categories = {}

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
                stale_percent=rule.backend_id._stale_reduce_percent(),
            ),
            shadow_mode=rule.shadow_mode,
            sources=", ".join(names),
            product_safety=product_safety,
            category_safety=category_safety,
        )

    @staticmethod
    def _pools(specs):
        """The distinct sets of sources, with the measures their rules need,
        laid out as columns of the stock rows; sets ``spec.columns``."""
        pools, index = [], {}
        for spec in specs:
            if spec.patterns not in index:
                index[spec.patterns] = len(pools)
                pools.append(Pool(spec.patterns, [ON_HAND]))
            pool = pools[index[spec.patterns]]
            needed = {FREE: ["reserved"], FORECAST: ["incoming", "outgoing"]}
            for measure in needed.get(spec.basis, []):
                if measure not in pool.measures:
                    pool.measures.append(measure)
        column = 1  # column 0 is the product id
        for pool in pools:
            for measure in pool.measures:
                pool.columns[measure] = column
                column += 1
        for spec in specs:
            spec.columns = pools[index[spec.patterns]].columns
        return pools

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
        """Stock of each product over each pool: the rows of
        :meth:`stock_query`, ``{product_id: row}``."""
        with self._work_mem():
            self.cr.execute(self.stock_query(pools, product_ids))
            return {row[0]: row for row in self.cr.fetchall()}

    def stock_query(self, pools, product_ids=None):
        """The hook: the query of the stock of each product over each pool,
        grouped in SQL.

        :param pools: list of :class:`Pool`: the ``parent_path LIKE``
            patterns of a set of sources, the measures needed and where they
            go in a row
        :param product_ids: restrict to these products (None: all)
        :return: :class:`~odoo.tools.SQL` of one row per product: column
            ``product_id`` first, then ``c<n>`` (never NULL) for each
            ``n`` of the pools' ``columns``, so that
            ``row[pool.columns[measure]]`` is the measure of the product over
            the pool, in the product's unit: ``on_hand`` and ``reserved`` sum
            the quants of the internal locations under the sources;
            ``incoming`` and ``outgoing`` the moves not done that enter or
            leave them. Products with neither quants nor moves there are left
            out. The engine reads it whole or keeps it in a temporary table.
        """
        all_patterns = sorted({p for pool in pools for p in pool.patterns})
        if not all_patterns:
            return SQL(
                "SELECT NULL::int AS product_id%s WHERE FALSE",
                SQL("").join(
                    SQL(", 0::float8 AS %s", SQL.identifier(f"c{column}"))
                    for pool in pools
                    for column in pool.columns.values()
                ),
            )
        flags = SQL(", ").join(
            SQL("l.parent_path LIKE ANY(%s) AS %s", list(pool.patterns), _flag(k))
            for k, pool in enumerate(pools)
        )
        quant_sums, move_sums, columns = [], [], []
        for k, pool in enumerate(pools):
            for measure in pool.measures:
                name = SQL.identifier(f"c{pool.columns[measure]}")
                if measure == ON_HAND:
                    quant_sums.append(_sum("q.quantity", SQL("loc.%s", _flag(k)), name))
                elif measure == "reserved":
                    quant_sums.append(
                        _sum("q.reserved_quantity", SQL("loc.%s", _flag(k)), name)
                    )
                else:
                    inside, outside = (
                        ("dst", "src")
                        if measure == "incoming"
                        else (
                            "src",
                            "dst",
                        )
                    )
                    move_sums.append(
                        _sum(
                            "m.product_qty",
                            SQL(
                                "%s.%s AND NOT COALESCE(%s.%s, FALSE)",
                                SQL.identifier(inside),
                                _flag(k),
                                SQL.identifier(outside),
                                _flag(k),
                            ),
                            name,
                        )
                    )
                source = "moves" if measure in ("incoming", "outgoing") else "quants"
                columns.append(
                    SQL("COALESCE(%s.%s, 0) AS %s", SQL.identifier(source), name, name)
                )
        has_products = product_ids is not None
        products = list(product_ids) if has_products else []
        if move_sums:
            moves = SQL(
                """, moves AS (
                    SELECT m.product_id, %(sums)s
                    FROM stock_move m
                    LEFT JOIN loc src ON src.id = m.location_id
                    LEFT JOIN loc dst ON dst.id = m.location_dest_id
                    WHERE m.state IN %(states)s
                      AND (src.id IS NOT NULL OR dst.id IS NOT NULL)
                      AND (NOT %(has_products)s OR m.product_id = ANY(%(products)s))
                    GROUP BY m.product_id
                )""",
                sums=SQL(", ").join(move_sums),
                states=OPEN_MOVE_STATES,
                has_products=has_products,
                products=products,
            )
            select = SQL(
                """SELECT COALESCE(quants.product_id, moves.product_id) AS product_id,
                       %s
                FROM quants FULL OUTER JOIN moves
                    ON moves.product_id = quants.product_id""",
                SQL(", ").join(columns),
            )
        else:
            moves = SQL()
            select = SQL(
                "SELECT quants.product_id, %s FROM quants", SQL(", ").join(columns)
            )
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
                )%(moves)s
                %(select)s
                """,
            flags=flags,
            all=all_patterns,
            sums=SQL(", ").join(quant_sums),
            has_products=has_products,
            products=products,
            moves=moves,
            select=select,
        )

    @contextmanager
    def _work_mem(self, **settings):
        """Enough memory for PostgreSQL to group a whole catalog without
        spilling to disk (``work_mem`` of the transaction, then restored),
        and the other planner ``settings`` given, likewise."""
        settings = {"work_mem": self.work_mem, **settings}
        previous = {}
        for name, value in settings.items():
            self.cr.execute(SQL("SELECT current_setting(%s)", name))
            previous[name] = self.cr.fetchone()[0]
            self.cr.execute(SQL("SELECT set_config(%s, %s, TRUE)", name, value))
        try:
            yield
        finally:
            for name, value in previous.items():
                self.cr.execute(SQL("SELECT set_config(%s, %s, TRUE)", name, value))

    # -- evaluation ----------------------------------------------------------

    def _category_chains(self):
        """{category id: [the category and its ancestors, nearest first]}."""
        if self._category_ancestors is None:
            self.cr.execute(SQL("SELECT id, parent_path FROM product_category"))
            self._category_ancestors = {
                cid: [int(part) for part in (path or "").split("/") if part][::-1]
                for cid, path in self.cr.fetchall()
            }
        return self._category_ancestors

    def _covered_categories(self, specs):
        """Ids of the categories a category override of ``specs`` covers:
        only their products need their category looked up."""
        return set().union(*(self._category_safety(spec) for spec in specs))

    def _category_safety(self, spec):
        """{category id: Safety} of every category a category override of
        ``spec`` covers (itself or an ancestor: the nearest wins)."""
        if not spec.category_safety:
            return {}
        cached = self._resolved_categories.get(id(spec))
        if cached is not None:
            return cached[0]
        resolved = {}
        for categ_id, chain in self._category_chains().items():
            for ancestor in chain:
                safety = spec.category_safety.get(ancestor)
                if safety is not None:
                    resolved[categ_id] = safety
                    break
        self._resolved_categories[id(spec)] = (resolved, spec)
        return resolved

    def evaluators(self, specs, partitions, categories):
        """{rule id: evaluate(product_ids, rows) -> (pools, results)}, one
        function per rule, specialised for speed. ``rows`` are the products'
        stock rows, in the order of ``product_ids`` (None: no stock, or the
        product is archived); ``pools`` the basis quantity of each product and
        ``results`` its ``(quantity, steps)``. ``categories`` maps product ids
        to category ids (only needed by rules with category overrides).

        The rule stack is pure: each function computes it once per distinct
        input (pool and safety stock) and looks the rest up, so that a
        catalog costs a few passes over lists rather than a call per level.
        Each function also has ``by_pool(pools) -> results``: the results of
        products without an override (see :meth:`_special_products`).
        """
        return {
            spec.id: self._evaluator(spec, partitions.get(spec.id), categories)
            for spec in specs
        }

    @staticmethod
    def evaluate_one(evaluate, product_id, row):
        """``(pool, (quantity, steps))`` of one product with ``evaluate``."""
        pools, results = evaluate([product_id], [row])
        return pools[0], results[0]

    def _evaluator(self, spec, partition, categories):
        pools_of = self._pool_function(spec)
        if partition is not None:
            return self._partition_evaluator(spec, partition, pools_of, categories)
        params = spec.params
        if spec.product_safety or spec.category_safety:
            resolve = self._safety_resolver(spec, categories)
            safeties = {
                id(safety): safety
                for safety in (
                    spec.default_safety,
                    *spec.product_safety.values(),
                    *self._category_safety(spec).values(),
                )
            }
            memo = _Memo(lambda key: apply_rules(key[0], params, safeties[key[1]]))

            def evaluate_with_overrides(product_ids, rows):
                pools = pools_of(rows)
                keys = zip(pools, map(id, map(resolve, product_ids)))
                return pools, list(map(memo.__getitem__, keys))

            default_key = id(spec.default_safety)
            evaluate_with_overrides.by_pool = lambda pools: [
                memo[pool, default_key] for pool in pools
            ]
            return evaluate_with_overrides
        default = spec.default_safety
        memo = _Memo(lambda pool: apply_rules(pool, params, default))

        def evaluate(product_ids, rows):
            pools = pools_of(rows)
            return pools, list(map(memo.__getitem__, pools))

        evaluate.by_pool = lambda pools: list(map(memo.__getitem__, pools))
        return evaluate

    @staticmethod
    def _pool_function(spec):
        """pools_of(rows) -> the basis quantity of ``spec`` in each row (0
        without row)."""
        on_hand = spec.columns[ON_HAND]
        if spec.basis == FREE:
            reserved = spec.columns["reserved"]
            return lambda rows: [
                0.0 if row is None else row[on_hand] - row[reserved] for row in rows
            ]
        if spec.basis == ON_HAND:
            return lambda rows: [0.0 if row is None else row[on_hand] for row in rows]
        incoming = spec.columns["incoming"]
        outgoing = spec.columns["outgoing"]
        return lambda rows: [
            0.0 if row is None else row[on_hand] + row[incoming] - row[outgoing]
            for row in rows
        ]

    def _special_products(self, spec, partition, categories):
        """Ids of the products whose result on ``spec`` is not its
        ``by_pool`` result: a product or category override applies (to the
        product on a partition's member, for a partition)."""
        members = partition.members if partition is not None else [spec]
        products = set().union(*(member.product_safety for member in members))
        covered = self._covered_categories(members)
        if covered:
            products.update(p for p, categ in categories.items() if categ in covered)
        return products

    @staticmethod
    def _pool_sql(spec, table):
        """SQL of the basis quantity of ``spec`` in a row of the stock table
        ``table`` (0 without row): the very float operations of
        :meth:`_pool_function`."""
        columns = spec.columns

        def column(measure):
            return SQL("%s.%s", table, SQL.identifier(f"c{columns[measure]}"))

        if spec.basis == FREE:
            pool = SQL("%s - %s", column(ON_HAND), column("reserved"))
        elif spec.basis == ON_HAND:
            pool = column(ON_HAND)
        else:
            pool = SQL(
                "%s + %s - %s", column(ON_HAND), column("incoming"), column("outgoing")
            )
        return SQL("COALESCE(%s, 0)::float8", pool)

    def _safety_resolver(self, spec, categories):
        """resolve(product_id) -> the Safety that applies to the product."""
        products = spec.product_safety
        by_category = self._category_safety(spec)
        default = spec.default_safety
        categ_of = categories.get

        def resolve(product_id):
            safety = products.get(product_id)
            if safety is None:
                safety = by_category.get(categ_of(product_id), default)
            return safety

        return resolve

    def _partition_evaluator(self, spec, partition, pools_of, categories):
        """The members of a partition share one memo: the first member's
        level of a product computes every member's part."""
        position = partition.index[spec.id]
        if partition.memo is None:
            partition.memo, partition.key_of = self._partition_memo(
                partition, categories
            )
        memo, key_of = partition.memo, partition.key_of
        part = itemgetter(position)

        def evaluate(product_ids, rows):
            pools = pools_of(rows)
            keys = pools if key_of is None else list(map(key_of, product_ids, pools))
            return pools, list(map(part, map(memo.__getitem__, keys)))

        def by_pool(pools):
            keys = pools if key_of is None else [(pool, 0) for pool in pools]
            return list(map(part, map(memo.__getitem__, keys)))

        evaluate.by_pool = by_pool
        return evaluate

    def _partition_memo(self, partition, categories):
        """(memo of the partition's results by key, key_of(product_id, pool)
        or None when the pool alone is the key)."""
        members = partition.members
        params = [member.params for member in members]
        resolvers = [self._safety_resolver(member, categories) for member in members]
        overridden = set().union(*(member.product_safety for member in members))
        covered = set().union(*(self._category_safety(m) for m in members))
        default = tuple(member.default_safety for member in members)
        by_category = {
            categ_id: tuple(
                self._category_safety(member).get(categ_id, member.default_safety)
                for member in members
            )
            for categ_id in covered
        }
        categ_of = categories.get

        def split(pool, safeties):
            return apply_partition(pool, list(zip(params, safeties, strict=True)))

        if not (overridden or by_category):
            return _Memo(lambda pool: split(pool, default)), None

        def key_of(product_id, pool):
            if product_id in overridden:
                return (pool, "product", product_id)
            categ_id = categ_of(product_id)
            return (pool, categ_id if categ_id in by_category else 0)

        def compute(key):
            if len(key) == 3:
                safeties = [resolve(key[2]) for resolve in resolvers]
            else:
                safeties = by_category[key[1]] if key[1] else default
            return split(key[0], safeties)

        return _Memo(compute), key_of

    def explanation(self, spec, row, archived, steps):
        """The steps with the pool's details, as a list of dicts."""
        pool_step = dict(steps[0], basis=spec.basis, sources=spec.sources)
        if archived:
            pool_step["archived"] = True
        else:
            measures = [ON_HAND]
            if spec.basis == FREE:
                measures.append("reserved")
            elif spec.basis == FORECAST:
                measures += ["incoming", "outgoing"]
            for measure in measures:
                value = row[spec.columns[measure]] if row is not None else 0.0
                pool_step[measure] = number(round(value, 6))
        return [pool_step, *steps[1:]]

    def _products_info(self, product_ids, category_ids):
        """(archived product ids, {product id: category id} of the products in
        ``category_ids``)."""
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
        if category_ids:
            self.cr.execute(
                SQL(
                    """
                    SELECT pp.id, pt.categ_id
                    FROM product_product pp
                    JOIN product_template pt ON pt.id = pp.product_tmpl_id
                    WHERE pt.categ_id = ANY(%s) %s
                    """,
                    sorted(category_ids),
                    restrict,
                )
            )
            categories = dict(self.cr.fetchall())
        return archived, categories

    # -- levels ----------------------------------------------------------------

    def ensure_levels(self, specs=None, product_ids=None, compute=True):
        """Create the missing levels in bulk; return how many.

        A (product, channel) gets a level when the product has a quant under
        the rule's sources (or, for the forecast basis, a move not done into
        or out of them), or when :meth:`extra_level_products` names it.

        :param specs: the rules to create levels for (default: every active
            rule)
        :param product_ids: only for these products
        :param compute: insert the levels computed and clean, in one write
            (else dirty, for the sweep to compute)
        """
        self.env.flush_all()
        all_specs = self.load_rules()
        specs = all_specs if specs is None else specs
        pairs = self._missing_levels(specs, product_ids)
        if not pairs:
            return 0
        by_id = {spec.id: spec for spec in all_specs}
        pairs = [(product, rule) for product, rule in pairs if rule in by_id]
        if compute:
            wanted = None if product_ids is None else {p for p, _r in pairs}
            computed = self._compute(all_specs, pairs, wanted)
        else:
            computed = [(product, rule, None, None, None) for product, rule in pairs]
        for start in range(0, len(computed), self.write_chunk):
            chunk = computed[start : start + self.write_chunk]
            products, rules, qtys, pools, texts = (list(c) for c in zip(*chunk))
            self.cr.execute(
                SQL(
                    """
                    INSERT INTO distribution_stock_level (
                        product_id, backend_id, rule_id, company_id, state,
                        differs, computed_qty, pool_qty, explanation, computed_at,
                        create_uid, create_date, write_uid, write_date)
                    SELECT v.product_id, r.backend_id, r.id, r.company_id,
                           CASE WHEN v.qty IS NULL THEN 'dirty' ELSE 'clean' END,
                           TRUE, v.qty, v.pool, v.explanation::jsonb,
                           CASE WHEN v.qty IS NOT NULL
                                THEN now() AT TIME ZONE 'UTC' END,
                           %(uid)s, now() AT TIME ZONE 'UTC',
                           %(uid)s, now() AT TIME ZONE 'UTC'
                    FROM unnest(%(products)s::int[], %(rules)s::int[],
                                %(qtys)s::float8[], %(pools)s::float8[],
                                %(texts)s::text[])
                        AS v(product_id, rule_id, qty, pool, explanation)
                    JOIN distribution_publish_rule r ON r.id = v.rule_id
                    ON CONFLICT (backend_id, product_id) DO NOTHING
                    """,
                    uid=self.env.uid,
                    products=products,
                    rules=rules,
                    qtys=qtys,
                    pools=pools,
                    texts=texts,
                )
            )
        self.env["distribution.stock.level"].invalidate_model()
        return len(computed)

    def _missing_levels(self, specs, product_ids):
        """(product id, rule id) pairs that need a level and have none."""
        rule_ids, patterns, forecast_ids, forecast_patterns = [], [], [], []
        for spec in specs:
            for pattern in spec.patterns:
                rule_ids.append(spec.id)
                patterns.append(pattern)
                if spec.basis == FORECAST:
                    forecast_ids.append(spec.id)
                    forecast_patterns.append(pattern)
        extra = self.extra_level_products(specs, product_ids)
        if not (rule_ids or extra):
            return []
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
                SELECT found.product_id, r.id
                FROM (SELECT DISTINCT * FROM (%(found)s) AS f)
                    AS found(product_id, rule_id)
                JOIN distribution_publish_rule r ON r.id = found.rule_id
                JOIN product_product pp ON pp.id = found.product_id
                JOIN product_template pt ON pt.id = pp.product_tmpl_id
                WHERE pt.is_storable
                  AND (pt.company_id IS NULL OR pt.company_id = r.company_id)
                  AND NOT EXISTS (
                      SELECT 1 FROM distribution_stock_level l
                      WHERE l.backend_id = r.backend_id
                        AND l.product_id = found.product_id)
                """,
                found=found,
            )
        )
        return self.cr.fetchall()

    def extra_level_products(self, specs, product_ids=None):
        """Hook: more ``(product id, rule id)`` pairs that need a level even
        without stock (e.g. products bound to the channel). None here."""
        return []

    def _compute(self, specs, pairs, product_ids):
        """(product id, rule id, quantity, pool, explanation JSON) of pairs."""
        by_id = {spec.id: spec for spec in specs}
        pools = self._pools(specs)
        stock = self.read_stock(pools, product_ids)
        covered = self._covered_categories(specs)
        archived, categories = self._products_info(product_ids, covered)
        for product_id in archived:
            stock.pop(product_id, None)  # an archived product has no pool
        evaluators = self.evaluators(specs, self._partitions(specs), categories)
        by_rule = {}
        for product_id, rule_id in pairs:
            by_rule.setdefault(rule_id, []).append(product_id)
        with disabling_gc():
            tails, computed = {}, []
            for rule_id, products in by_rule.items():
                spec = by_id[rule_id]
                rows = list(map(stock.get, products))
                pools, results = evaluators[rule_id](products, rows)
                computed += [
                    (
                        product_id,
                        rule_id,
                        result[0],
                        pool,
                        self._explanation_json(
                            spec, row, product_id in archived, result[1], tails
                        ),
                    )
                    for product_id, row, pool, result in zip(
                        products, rows, pools, results, strict=True
                    )
                ]
        return computed

    def recompute(self, product_ids=None, rule_ids=None, level_ids=None, specs=None):
        """Recompute levels and write the ones that changed.

        The grouped stock goes to a temporary table; the rule stack runs once
        per rule and distinct pool; one statement compares every level with
        these results in SQL and returns the candidates: levels that are
        dirty, whose pool or number differs, or that an override concerns.
        Only the candidates come back to Python, where the rule stack and the
        explanation of each are computed, compared and written.

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
        specs_wanted = [spec for spec in specs if spec.id in wanted]
        filters = [SQL("l.rule_id = ANY(%s)", [spec.id for spec in specs_wanted])]
        if product_ids is not None:
            filters.append(SQL("l.product_id = ANY(%s)", list(product_ids)))
        if level_ids is not None:
            filters.append(SQL("l.id = ANY(%s)", list(level_ids)))
        where = SQL(" AND ").join(filters)
        if product_ids is None and (rule_ids is not None or level_ids is not None):
            self.cr.execute(
                SQL(
                    "SELECT DISTINCT l.product_id FROM distribution_stock_level l "
                    "WHERE %s",
                    where,
                )
            )
            product_ids = [row[0] for row in self.cr.fetchall()]
        if not specs_wanted or (product_ids is not None and not product_ids):
            return {"levels": 0, "written": 0}
        covered = self._covered_categories(specs)
        archived, categories = self._products_info(product_ids, covered)
        evaluators = self.evaluators(specs, partitions, categories)
        special = {}
        for spec in specs_wanted:
            partition = partitions.get(spec.id)
            for product_id in self._special_products(spec, partition, categories):
                special.setdefault(product_id, []).append(spec.id)
        # many small objects, none in a cycle: no collector runs meanwhile
        with (
            disabling_gc(),
            self._stock_table(pools, product_ids, archived, special) as table,
        ):
            count, candidates = self._candidates(specs_wanted, evaluators, table, where)
            stock = self._stock_rows(table, {c[1] for c in candidates})
            by_rule = {}
            for candidate in candidates:
                by_rule.setdefault(candidate[0], []).append(candidate)
            changed = []
            for rule_id, levels in by_rule.items():
                _rules, products, old_qtys, old_pools, dirty = zip(*levels)
                rows = list(map(stock.get, products))
                new_pools, results = evaluators[rule_id](products, rows)
                qtys = map(itemgetter(0), results)
                differs = map(
                    or_, map(ne, qtys, old_qtys), map(ne, new_pools, old_pools)
                )
                changed += [
                    (products[i], rule_id, rows[i], new_pools[i], results[i])
                    for i in compress(range(len(products)), map(or_, differs, dirty))
                ]
        tails = {}
        self.write_levels(
            [
                (
                    by_id[rule_id].backend_id,
                    product_id,
                    result[0],
                    pool,
                    self._explanation_json(
                        by_id[rule_id], row, product_id in archived, result[1], tails
                    ),
                )
                for product_id, rule_id, row, pool, result in changed
            ]
        )
        return {"levels": count, "written": len(changed)}

    @contextmanager
    def _stock_table(self, pools, product_ids, archived, special):
        """The rows of :meth:`stock_query` in a temporary table (dropped
        afterwards), without the archived products (they have no pool), and
        in a last column ``special_rules`` the ids of the rules on which an
        override concerns the product (``special``: {product id: rule ids}).
        """
        table = SQL.identifier("distribution_stock_rows")
        self.cr.execute(SQL("DROP TABLE IF EXISTS %s", table))
        with self._work_mem():
            self.cr.execute(
                SQL(
                    """
                    CREATE TEMPORARY TABLE %(table)s ON COMMIT DROP AS
                    SELECT stock.*, special.rule_ids AS special_rules
                    FROM (%(stock)s) AS stock
                    LEFT JOIN (
                        SELECT product_id, array_agg(rule_id) AS rule_ids
                        FROM unnest(%(products)s::int[], %(rules)s::int[])
                            AS sp(product_id, rule_id)
                        GROUP BY product_id
                    ) AS special ON special.product_id = stock.product_id
                    WHERE stock.product_id <> ALL(%(archived)s::int[])
                    """,
                    table=table,
                    stock=self.stock_query(pools, product_ids),
                    products=[p for p, rules in special.items() for _r in rules],
                    rules=[r for rules in special.values() for r in rules],
                    archived=sorted(archived),
                )
            )
        yield table
        # not on errors: the rollback that follows drops it with the rest
        self.cr.execute(SQL("DROP TABLE %s", table))

    def _candidates(self, specs, evaluators, table, where):
        """(count of the levels, candidates to recompute: list of (rule id,
        product id, computed, pool, dirty)) of the levels of ``specs`` that
        match ``where``, compared in one statement with each rule's result
        by pool. A level with an override is always a candidate: without
        stock (no row in ``table``), its pool is 0 and so is its number,
        whatever the safety stock."""
        pool_of = {spec.id: self._pool_sql(spec, SQL("s")) for spec in specs}
        # the distinct pools of each rule, then the rule stack once for each
        self.cr.execute(
            SQL(
                "SELECT %s FROM %s s",
                SQL(", ").join(
                    SQL("array_agg(DISTINCT %s)", pool_of[spec.id]) for spec in specs
                ),
                table,
            )
        )
        distinct = self.cr.fetchone()
        lookup_rules, lookup_pools, lookup_qtys = [], [], []
        for spec, spec_pools in zip(specs, distinct, strict=True):
            spec_pools = sorted({0.0, *(spec_pools or ())})
            results = evaluators[spec.id].by_pool(spec_pools)
            lookup_rules += [spec.id] * len(spec_pools)
            lookup_pools += spec_pools
            lookup_qtys += [result[0] for result in results]
        pool = SQL(
            "CASE l.rule_id %s END",
            SQL(" ").join(
                SQL("WHEN %s THEN %s", rule_id, expression)
                for rule_id, expression in pool_of.items()
            ),
        )
        # the levels with their new pool, then the rule's result by pool: a
        # hash join against a few hundred results (the planner, misled by the
        # array's size, would rather sort the catalog for a merge join),
        # without compiling a one-off statement
        with self._work_mem(enable_mergejoin="off", jit="off"):
            self.cr.execute(
                SQL(
                    """
                    SELECT count(*),
                           array_agg(rule_id) FILTER (WHERE candidate),
                           array_agg(product_id) FILTER (WHERE candidate),
                           array_agg(computed_qty) FILTER (WHERE candidate),
                           array_agg(pool_qty) FILTER (WHERE candidate),
                           array_agg(dirty) FILTER (WHERE candidate)
                    FROM (
                        SELECT lv.rule_id, lv.product_id, lv.computed_qty,
                               lv.pool_qty, lv.dirty,
                               lv.dirty OR lv.special OR v.qty IS NULL
                                   OR lv.computed_qty IS DISTINCT FROM v.qty
                                   OR lv.pool_qty IS DISTINCT FROM lv.pool
                                   AS candidate
                        FROM (
                            SELECT l.rule_id, l.product_id, l.computed_qty,
                                   l.pool_qty, l.state = 'dirty' AS dirty,
                                   %(pool)s AS pool,
                                   COALESCE(l.rule_id = ANY(s.special_rules), FALSE)
                                       AS special
                            FROM distribution_stock_level l
                            LEFT JOIN %(table)s s ON s.product_id = l.product_id
                            WHERE %(where)s
                            -- computed once per level, not in each join and
                            -- aggregate that uses them
                            OFFSET 0
                        ) AS lv
                        LEFT JOIN unnest(%(rules)s::int[], %(pools)s::float8[],
                                         %(qtys)s::float8[]) AS v(rule_id, pool, qty)
                            ON v.rule_id = lv.rule_id AND v.pool = lv.pool
                        OFFSET 0
                    ) AS compared
                    """,
                    table=table,
                    rules=lookup_rules,
                    pools=lookup_pools,
                    qtys=lookup_qtys,
                    pool=pool,
                    where=where,
                )
            )
            count, *columns = self.cr.fetchone()
            candidates = list(zip(*columns, strict=True)) if columns[0] else []
        return count, candidates

    def _stock_rows(self, table, product_ids):
        """{product id: row} of the stock table for these products."""
        if not product_ids:
            return {}
        self.cr.execute(
            SQL("SELECT * FROM %s WHERE product_id = ANY(%s)", table, list(product_ids))
        )
        return {row[0]: row for row in self.cr.fetchall()}

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
        """Write ``(backend id, product id, quantity, pool, explanation
        JSON)`` rows in bulk.

        A written level becomes clean (an exporting one stays exporting: its
        export job sends the new number).
        """
        for start in range(0, len(changed), self.write_chunk):
            chunk = changed[start : start + self.write_chunk]
            backends, products, qtys, pools, texts = (list(c) for c in zip(*chunk))
            self.cr.execute(
                SQL(
                    """
                    UPDATE distribution_stock_level l
                    SET computed_qty = v.qty,
                        differs = l.published_at IS NULL
                            OR v.qty IS DISTINCT FROM l.published_qty,
                        pool_qty = v.pool,
                        explanation = v.explanation::jsonb,
                        state = CASE WHEN l.state = 'exporting'
                                     THEN 'exporting' ELSE 'clean' END,
                        error = CASE WHEN l.state = 'exporting'
                                     THEN l.error END,
                        computed_at = now() AT TIME ZONE 'UTC',
                        write_date = now() AT TIME ZONE 'UTC',
                        write_uid = %s
                    FROM unnest(%s::int[], %s::int[], %s::float8[], %s::float8[],
                                %s::text[])
                        AS v(backend_id, product_id, qty, pool, explanation)
                    WHERE l.backend_id = v.backend_id AND l.product_id = v.product_id
                    """,
                    self.env.uid,
                    backends,
                    products,
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
        evaluators = self.evaluators(
            specs, partitions, {product.id: product.categ_id.id}
        )
        results = []
        for spec in specs:
            pool, (qty, steps) = self.evaluate_one(
                evaluators[spec.id], product.id, None if archived else row
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


def _flag(index):
    return SQL.identifier(f"k{index}")


def _sum(column, condition, name):
    # float8 before summing: numeric sums are much slower and heavier to group
    return SQL(
        "SUM((%s)::float8) FILTER (WHERE %s) AS %s", SQL(column), condition, name
    )


class _Memo(dict):
    """Results of a pure function by its argument, computed on first use:
    ``memo[key]`` is ``function(key)``."""

    __slots__ = ("function",)

    def __init__(self, function):
        super().__init__()
        self.function = function

    def __missing__(self, key):
        value = self[key] = self.function(key)
        return value
