"""The recompute run: which levels exist, which changed, and the bulk writes.

The grouped stock goes to a temporary table; the rule stack runs once per
rule and distinct pool; one statement compares every level with those
results in SQL and returns the candidates (dirty levels, changed pools or
numbers, levels an override concerns). Only the candidates come back to
Python, where they are evaluated, explained and, when changed, written by
one ``UPDATE ... FROM unnest(...)`` per chunk. Missing levels are inserted
already computed. No product is read through the ORM.
"""

import json
from collections import defaultdict
from contextlib import contextmanager
from itertools import compress
from operator import itemgetter, ne, or_

from odoo.tools import SQL
from odoo.tools.gc import disabling_gc

from .evaluation import partitions_by_rule
from .query import (
    BASIS_MEASURES,
    CATALOG_WORK_MEM,
    FORECAST,
    INCOMING,
    ON_HAND,
    OPEN_MOVE_STATES,
    STOCK_QUERY_JIT,
    basis_quantity_sql,
    planner_settings,
    source_sets,
)

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

#: levels inserted or updated per statement: its five arrays of 10,000 values
#: (an explanation is a few hundred bytes of JSON) make a statement of a few
#: megabytes, which bounds the memory of the query text built on both sides,
#: while 500,000 levels still take only 50 statements
LEVELS_PER_STATEMENT = 10000

# Planner settings of the comparison of the levels with the results by pool
# (:meth:`LevelRecompute._candidates`):
#: no merge join: misled by the size of the arrays of results, the planner
#: would sort the whole catalog's levels for a merge join, where a hash join
#: against a few hundred results is what the statement needs
CANDIDATES_ENABLE_MERGEJOIN = "off"
#: no JIT: the statement runs once per recompute, compiling it costs more
#: than it saves
CANDIDATES_JIT = "off"

# Planner settings of the bulk writes (:meth:`LevelRecompute.write_levels`):
#: each level found by its id through the primary key: a statement writes at
#: most ``LEVELS_PER_STATEMENT`` levels of a table that holds one per product
#: and channel, which a hash or merge join would read whole for each
#: statement
WRITE_ENABLE_HASHJOIN = "off"
WRITE_ENABLE_MERGEJOIN = "off"

#: a recompute of at most this many products (a sweep's batch) reads their
#: levels and compares them in Python; beyond, the comparison is one SQL
#: statement over the catalog
FEW_PRODUCTS = 20000


class LevelRecompute:
    """The engine's level creation, recompute and bulk writes."""

    def ensure_levels(self, specs=None, product_ids=None, compute=True):
        """Create the missing levels in bulk; return how many.

        A storable product of the rule's company (or shared) gets a level on
        a channel when the channel can sell it (it is active and has an
        internal reference, or is bound to the channel's backend), with or
        without stock: without, it publishes 0. A product the channel cannot
        name gets one too when it has a quant under the rule's sources (or,
        for the forecast basis, a move not done into or out of them), so that
        its export says what is missing, and when
        :meth:`extra_level_products` names it.

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
            computed = self._computed_levels(all_specs, pairs, wanted)
        else:
            computed = [(product, rule, None, None, None) for product, rule in pairs]
        # a product's levels inserted together share a page: a sweep, which
        # recomputes every level of a product, reads and writes fewer pages
        computed.sort(key=itemgetter(0, 1))
        for start in range(0, len(computed), LEVELS_PER_STATEMENT):
            chunk = computed[start : start + LEVELS_PER_STATEMENT]
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
                                THEN clock_timestamp() AT TIME ZONE 'UTC' END,
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
        if not specs:
            return []
        rule_ids, patterns, forecast_ids, forecast_patterns = [], [], [], []
        for spec in specs:
            for pattern in spec.patterns:
                rule_ids.append(spec.id)
                patterns.append(pattern)
                if spec.basis == FORECAST:
                    forecast_ids.append(spec.id)
                    forecast_patterns.append(pattern)
        extra = self.extra_level_products(specs, product_ids)
        has_products = product_ids is not None
        products = list(product_ids) if has_products else []
        # what the channels sell, with or without stock
        published = SQL(
            """
            SELECT pp.id, r.id
            FROM distribution_publish_rule r
            JOIN product_product pp ON pp.active
            WHERE r.id = ANY(%(rules)s)
              AND (NOT %(has_products)s OR pp.id = ANY(%(products)s))
              AND (COALESCE(pp.default_code, '') <> ''
                   OR EXISTS (SELECT 1 FROM distribution_binding binding
                              WHERE binding.backend_id = r.backend_id
                                AND binding.res_model = 'product.product'
                                AND binding.res_id = pp.id))
            """,
            rules=sorted({spec.id for spec in specs}),
            has_products=has_products,
            products=products,
        )
        needing_level = SQL(
            """%(published)s
            UNION
            SELECT q.product_id, src.rule_id
            FROM unnest(%(rules)s::int[], %(patterns)s::varchar[])
                AS src(rule_id, pattern)
            JOIN stock_location l
                ON l.parent_path LIKE src.pattern AND l.usage = 'internal'
            JOIN stock_quant q ON q.location_id = l.id
            WHERE (NOT %(has_products)s OR q.product_id = ANY(%(products)s))
            """,
            published=published,
            rules=rule_ids,
            patterns=patterns,
            has_products=has_products,
            products=products,
        )
        if forecast_ids:
            needing_level = SQL(
                """%(with_quants)s
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
                with_quants=needing_level,
                rules=forecast_ids,
                patterns=forecast_patterns,
                states=OPEN_MOVE_STATES,
                has_products=has_products,
                products=products,
            )
        if extra:
            needing_level = SQL(
                "%s UNION SELECT * FROM unnest(%s::int[], %s::int[])",
                needing_level,
                [product for product, _rule in extra],
                [rule for _product, rule in extra],
            )
        self.cr.execute(
            SQL(
                """
                SELECT found.product_id, r.id
                FROM (SELECT DISTINCT * FROM (%(needing_level)s) AS f)
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
                needing_level=needing_level,
            )
        )
        return self.cr.fetchall()

    def extra_level_products(self, specs, product_ids=None):
        """Hook: more ``(product id, rule id)`` pairs that need a level even
        without stock (e.g. products bound to the channel). None here."""
        return []

    def _computed_levels(self, specs, pairs, product_ids):
        """(product id, rule id, quantity, pool, explanation JSON) of the
        (product id, rule id) ``pairs``."""
        by_id = {spec.id: spec for spec in specs}
        stock = self.read_stock(source_sets(specs), product_ids)
        covered = self._covered_categories(specs)
        archived, categories = self._products_info(product_ids, covered)
        for product_id in archived:
            stock.pop(product_id, None)  # an archived product has no pool
        evaluators = self.evaluators(specs, partitions_by_rule(specs), categories)
        by_rule = {}
        for product_id, rule_id in pairs:
            by_rule.setdefault(rule_id, []).append(product_id)
        # many small objects, none in a cycle: no collector runs meanwhile
        with disabling_gc():
            steps_after_pool_json, computed = {}, []
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
                            spec,
                            row,
                            product_id in archived,
                            result[1],
                            steps_after_pool_json,
                        ),
                    )
                    for product_id, row, pool, result in zip(
                        products, rows, pools, results, strict=True
                    )
                ]
        return computed

    def recompute(
        self,
        product_ids=None,
        rule_ids=None,
        level_ids=None,
        specs=None,
        hand_over=(),
    ):
        """Recompute levels and write the ones that changed.

        For a few products (a sweep's batch), their stock and their levels
        are read and compared in Python. For more (a catalog), the grouped
        stock goes to a temporary table; the rule stack runs once per rule
        and distinct pool; one statement compares every level with these
        results in SQL and returns the candidates: levels that are dirty,
        whose pool or number differs, or that an override concerns. Either
        way only the levels that changed (or were dirty) are explained and
        written.

        :param product_ids: only the levels of these products
        :param rule_ids: only the levels of these rules
        :param level_ids: only these levels
        :param hand_over: ids of the backends whose levels go to export: a
            level of theirs written with a number the channel does not show
            yet becomes *exporting* in the same write (not exporting already)
        :return: dict: ``levels`` computed, ``written``, and ``exporting``,
            the ids of the levels handed over, by backend id
        """
        # stock changes of this very transaction first
        self.env["distribution.stock.level"]._flush_dirty_marks()
        self.env.flush_all()
        specs = self.load_rules() if specs is None else specs
        if not specs:
            return {"levels": 0, "written": 0, "exporting": {}}
        by_id = {spec.id: spec for spec in specs}
        sets = source_sets(specs)
        partitions = partitions_by_rule(specs)
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
            return {"levels": 0, "written": 0, "exporting": {}}
        covered = self._covered_categories(specs)
        archived, categories = self._products_info(product_ids, covered)
        evaluators = self.evaluators(specs, partitions, categories)
        if product_ids is not None and len(product_ids) <= FEW_PRODUCTS:
            return self._recompute_batch(
                specs_wanted,
                evaluators,
                partitions,
                categories,
                (sets, product_ids, archived),
                where,
                hand_over,
            )
        overridden = self._overridden(specs_wanted, partitions, categories)
        # many small objects, none in a cycle: no collector runs meanwhile
        with disabling_gc():
            with self._stock_table(sets, product_ids, archived, overridden) as table:
                count, candidates = self._candidates(
                    specs_wanted, evaluators, table, where
                )
                stock = self._stock_rows(table, {c[1] for c in candidates})
            changed = self._changed(candidates, stock, evaluators)
            exporting = self._write_changed(changed, by_id, archived, hand_over)
        return {"levels": count, "written": len(changed), "exporting": exporting}

    def _overridden(self, specs, partitions, categories):
        """{product id: ids of the rules of ``specs`` on which an override
        concerns it}."""
        overridden = {}
        for spec in specs:
            partition = partitions.get(spec.id)
            products = self._overridden_products(spec, partition, categories)
            for product_id in products:
                overridden.setdefault(product_id, []).append(spec.id)
        return overridden

    def _write_changed(self, changed, by_id, archived, hand_over):
        """Explain and write the levels of :meth:`_changed`; return the ids of
        the levels handed over to export, by backend id."""
        steps_after_pool_json = {}
        return self.write_levels(
            [
                (
                    level_id,
                    result[0],
                    pool,
                    self._explanation_json(
                        by_id[rule_id],
                        row,
                        product_id in archived,
                        result[1],
                        steps_after_pool_json,
                    ),
                    state != "exporting" and by_id[rule_id].backend_id in hand_over,
                )
                for level_id, product_id, rule_id, state, row, pool, result in changed
            ]
        )

    def _recompute_batch(
        self, specs, evaluators, partitions, categories, stock_of, where, hand_over
    ):
        """Recompute the levels of a sweep's batch of products (``where``)
        and write the ones whose numbers changed, in SQL.

        The batch's stock goes to a temporary table; the rule stack runs in
        Python once per rule and distinct pool; one statement then computes
        every level's quantity, pool and explanation from the table and
        those results and writes only the levels where one of them changed
        (or that were dirty). The levels of archived products and of
        products with an override on their rule are computed in Python, as
        a catalog's candidates are.

        :param stock_of: (source sets, product ids, archived product ids)
        """
        sets, product_ids, archived = stock_of
        by_id = {spec.id: spec for spec in specs}
        overridden = self._overridden(specs, partitions, categories)
        special = sorted((archived | set(overridden)).intersection(product_ids))
        with (
            disabling_gc(),
            self._stock_table(sets, product_ids, archived, overridden) as table,
        ):
            changed, count = [], 0
            if special:
                count, candidates = self._levels(
                    SQL("%s AND l.product_id = ANY(%s)", where, special)
                )
                stock = self._stock_rows(table, set(special))
                changed = self._changed(candidates, stock, evaluators)
            exporting = self._write_changed(changed, by_id, archived, hand_over)
            levels, written, handed_over = self._write_computed(
                specs,
                evaluators,
                table,
                SQL("%s AND l.product_id <> ALL(%s::int[])", where, special),
                hand_over,
            )
        for level_id, backend_id in handed_over:
            exporting.setdefault(backend_id, []).append(level_id)
        return {
            "levels": count + levels,
            "written": len(changed) + written,
            "exporting": exporting,
        }

    def _write_computed(self, specs, evaluators, table, where, hand_over):
        """One statement: the levels of ``specs`` that match ``where``, their
        new quantity, pool and explanation computed from the stock table
        ``table`` and the results of the rule stack by pool, written where
        one of them changed or the level was dirty.

        :return: (count of the levels, count written, [(level id, backend
            id)] of the levels handed over to export)
        """
        pool_of, pool, results_by_pool = self._results_by_pool(specs, evaluators, table)
        rules, pools, qtys, steps = [], [], [], []
        for rule_id, spec_pools, results in results_by_pool:
            rules += [rule_id] * len(spec_pools)
            pools += spec_pools
            qtys += [result[0] for result in results]
            # the steps after the pool: the same for every level of the pool
            steps += [json.dumps(result[1][1:]) for result in results]
        pool_step = SQL(
            "CASE l.rule_id %s END",
            SQL(" ").join(
                SQL(
                    "WHEN %s THEN %s",
                    spec.id,
                    self._pool_step_sql(spec, pool_of[spec.id]),
                )
                for spec in specs
            ),
        )
        with planner_settings(
            self.cr,
            enable_mergejoin=CANDIDATES_ENABLE_MERGEJOIN,
            jit=CANDIDATES_JIT,
        ):
            self.cr.execute(
                SQL(
                    """
                    WITH computed AS (
                        SELECT lv.id, v.qty, lv.pool,
                               jsonb_build_array(lv.pool_step) || v.steps
                                   AS explanation,
                               lv.hand_over
                        FROM (
                            SELECT l.id, l.rule_id, %(pool)s AS pool,
                                   %(pool_step)s AS pool_step,
                                   l.state <> 'exporting'
                                       AND l.backend_id = ANY(%(hand_over)s::int[])
                                       AS hand_over
                            FROM distribution_stock_level l
                            LEFT JOIN %(table)s s ON s.product_id = l.product_id
                            WHERE %(where)s
                            -- each level's pool first, then its result
                            OFFSET 0
                        ) AS lv
                        JOIN unnest(%(rules)s::int[], %(pools)s::float8[],
                                    %(qtys)s::float8[], %(steps)s::jsonb[])
                            AS v(rule_id, pool, qty, steps)
                            ON v.rule_id = lv.rule_id AND v.pool = lv.pool
                    ), written AS (
                        UPDATE distribution_stock_level l
                        SET %(values)s
                        FROM computed v
                        WHERE l.id = v.id
                          AND (l.state = 'dirty'
                               OR l.computed_qty IS DISTINCT FROM v.qty
                               OR l.pool_qty IS DISTINCT FROM v.pool
                               OR l.explanation IS DISTINCT FROM v.explanation)
                        RETURNING l.id, l.backend_id,
                                  v.hand_over AND l.state = 'exporting' AS handed_over
                    )
                    SELECT (SELECT count(*) FROM computed),
                           (SELECT count(*) FROM written),
                           (SELECT array_agg(ARRAY[id, backend_id])
                            FROM written WHERE handed_over)
                    """,
                    pool=pool,
                    pool_step=pool_step,
                    hand_over=sorted(hand_over),
                    table=table,
                    where=where,
                    rules=rules,
                    pools=pools,
                    qtys=qtys,
                    steps=steps,
                    values=self._written_values(),
                )
            )
            levels, written, handed_over = self.cr.fetchone()
        if written:
            self.env["distribution.stock.level"].invalidate_model(
                [*COMPUTED_FIELDS, "to_recompute", "write_date", "write_uid"]
            )
        return levels, written, [tuple(pair) for pair in handed_over or ()]

    def _results_by_pool(self, specs, evaluators, table):
        """The distinct pools of each rule in the stock table ``table`` (and
        0, a level without stock), then the rule stack once for each.

        :return: ({rule id: its pool's SQL over the stock row ``s``}, the
            pool of a level ``l`` as one SQL expression, [(rule id, sorted
            pools, the rule stack's results for them)])
        """
        pool_of = {spec.id: basis_quantity_sql(spec, SQL("s")) for spec in specs}
        self.cr.execute(
            SQL(
                "SELECT %s FROM %s s",
                SQL(", ").join(
                    SQL("array_agg(DISTINCT %s)", pool_of[spec.id]) for spec in specs
                ),
                table,
            )
        )
        results = []
        for spec, spec_pools in zip(specs, self.cr.fetchone(), strict=True):
            spec_pools = sorted({0.0, *(spec_pools or ())})
            results.append(
                (spec.id, spec_pools, evaluators[spec.id].by_pool(spec_pools))
            )
        pool = SQL(
            "CASE l.rule_id %s END",
            SQL(" ").join(
                SQL("WHEN %s THEN %s", rule_id, expression)
                for rule_id, expression in pool_of.items()
            ),
        )
        return pool_of, pool, results

    def _pool_step_sql(self, spec, pool):
        """SQL of the pool step of ``spec``'s explanation (jsonb) in a row of
        the stock table ``s``: what :meth:`_pool_step_writer` writes."""

        def number(value):
            return SQL("trim_scale(round((%s)::numeric, 6))", value)

        def column(measure):
            name = SQL.identifier(spec.source_set.column_name(measure))
            return SQL("COALESCE(s.%s, 0)", name)

        measures = [ON_HAND, *BASIS_MEASURES.get(spec.basis, [])]
        details = SQL(", ").join(
            SQL("%s, %s", measure, number(column(measure))) for measure in measures
        )
        no_stock = SQL("%s <= 0", column(ON_HAND))
        if INCOMING in measures:
            no_stock = SQL("%s AND %s <= 0", no_stock, column(INCOMING))
        return SQL(
            """jsonb_build_object('step', 'pool', 'qty', %(qty)s,
                                  'basis', %(basis)s::text,
                                  'sources', %(sources)s::text, %(details)s)
               || CASE WHEN %(no_stock)s THEN '{"no_stock": true}'::jsonb
                       ELSE '{}'::jsonb END""",
            qty=number(SQL("GREATEST(%s, 0)", pool)),
            basis=spec.basis,
            sources=spec.sources,
            details=details,
            no_stock=no_stock,
        )

    def _levels(self, where):
        """(count, levels) of the levels that match ``where``, each as a
        candidate of :meth:`_changed`."""
        self.cr.execute(
            SQL(
                """
                SELECT l.rule_id, l.product_id, l.computed_qty, l.pool_qty,
                       l.state, l.id
                FROM distribution_stock_level l
                WHERE %s
                """,
                where,
            )
        )
        levels = self.cr.fetchall()
        return len(levels), levels

    @staticmethod
    def _changed(candidates, stock, evaluators):
        """The candidates whose number or pool changed, or that were dirty:
        (level id, product id, rule id, state, stock row, pool, (quantity,
        steps)).

        :param candidates: (rule id, product id, computed, pool, state, level
            id) of levels
        """
        by_rule = {}
        for candidate in candidates:
            by_rule.setdefault(candidate[0], []).append(candidate)
        changed = []
        for rule_id, levels in by_rule.items():
            _rules, products, old_qtys, old_pools, states, level_ids = zip(*levels)
            rows = list(map(stock.get, products))
            new_pools, results = evaluators[rule_id](products, rows)
            qtys = map(itemgetter(0), results)
            differs = map(or_, map(ne, qtys, old_qtys), map(ne, new_pools, old_pools))
            dirty = map("dirty".__eq__, states)
            changed += [
                (
                    level_ids[i],
                    products[i],
                    rule_id,
                    states[i],
                    rows[i],
                    new_pools[i],
                    results[i],
                )
                for i in compress(range(len(products)), map(or_, differs, dirty))
            ]
        return changed

    @contextmanager
    def _stock_table(self, sets, product_ids, archived, overridden):
        """The rows of :meth:`stock_query` over the source ``sets`` in a
        temporary table (dropped afterwards), without the archived products
        (they have no pool), and in a last column ``overridden_rule_ids`` the
        ids of the rules on which an override concerns the product
        (``overridden``: {product id: rule ids}).
        """
        table = SQL.identifier("distribution_stock_rows")
        self.cr.execute(SQL("DROP TABLE IF EXISTS %s", table))
        with planner_settings(self.cr, work_mem=CATALOG_WORK_MEM, jit=STOCK_QUERY_JIT):
            self.cr.execute(
                SQL(
                    """
                    CREATE TEMPORARY TABLE %(table)s ON COMMIT DROP AS
                    SELECT stock.*, overridden.rule_ids AS overridden_rule_ids
                    FROM (%(stock)s) AS stock
                    LEFT JOIN (
                        SELECT product_id, array_agg(rule_id) AS rule_ids
                        FROM unnest(%(products)s::int[], %(rules)s::int[])
                            AS ov(product_id, rule_id)
                        GROUP BY product_id
                    ) AS overridden ON overridden.product_id = stock.product_id
                    WHERE stock.product_id <> ALL(%(archived)s::int[])
                    """,
                    table=table,
                    stock=self.stock_query(sets, product_ids),
                    products=[p for p, rules in overridden.items() for _r in rules],
                    rules=[r for rules in overridden.values() for r in rules],
                    archived=sorted(archived),
                )
            )
        yield table
        # not on errors: the rollback that follows drops it with the rest
        self.cr.execute(SQL("DROP TABLE %s", table))

    def _candidates(self, specs, evaluators, table, where):
        """(count of the levels, candidates to recompute: list of (rule id,
        product id, computed, pool, state, level id)) of the levels of ``specs`` that
        match ``where``, compared in one statement with each rule's result
        by pool. A level with an override is always a candidate: without
        stock (no row in ``table``), its pool is 0 and so is its number,
        whatever the safety stock."""
        _pool_of, pool, results_by_pool = self._results_by_pool(
            specs, evaluators, table
        )
        lookup_rules, lookup_pools, lookup_qtys = [], [], []
        for rule_id, spec_pools, results in results_by_pool:
            lookup_rules += [rule_id] * len(spec_pools)
            lookup_pools += spec_pools
            lookup_qtys += [result[0] for result in results]
        # the levels with their new pool, then the rule's result by pool
        with planner_settings(
            self.cr,
            work_mem=CATALOG_WORK_MEM,
            enable_mergejoin=CANDIDATES_ENABLE_MERGEJOIN,
            jit=CANDIDATES_JIT,
        ):
            self.cr.execute(
                SQL(
                    """
                    SELECT count(*),
                           array_agg(rule_id) FILTER (WHERE candidate),
                           array_agg(product_id) FILTER (WHERE candidate),
                           array_agg(computed_qty) FILTER (WHERE candidate),
                           array_agg(pool_qty) FILTER (WHERE candidate),
                           array_agg(state) FILTER (WHERE candidate),
                           array_agg(id) FILTER (WHERE candidate)
                    FROM (
                        SELECT lv.rule_id, lv.product_id, lv.computed_qty,
                               lv.pool_qty, lv.state, lv.id,
                               lv.dirty OR lv.overridden OR v.qty IS NULL
                                   OR lv.computed_qty IS DISTINCT FROM v.qty
                                   OR lv.pool_qty IS DISTINCT FROM lv.pool
                                   AS candidate
                        FROM (
                            SELECT l.id, l.rule_id, l.product_id, l.computed_qty,
                                   l.pool_qty, l.state, l.state = 'dirty' AS dirty,
                                   %(pool)s AS pool,
                                   COALESCE(l.rule_id = ANY(s.overridden_rule_ids),
                                            FALSE) AS overridden
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

    def _written_values(self):
        """The SET clause of a level's write from ``v`` (id, qty, pool,
        explanation, hand_over): the level becomes clean; handed over and
        showing the channel another number than it confirmed, exporting; an
        exporting one stays exporting."""
        return SQL(
            """
            computed_qty = v.qty,
            differs = l.published_at IS NULL
                OR v.qty IS DISTINCT FROM COALESCE(l.basis_qty, l.published_qty),
            pool_qty = v.pool,
            explanation = v.explanation,
            state = CASE
                WHEN l.state = 'exporting' THEN 'exporting'
                WHEN v.hand_over AND (
                    l.published_at IS NULL
                    OR v.qty IS DISTINCT FROM COALESCE(l.basis_qty, l.published_qty))
                THEN 'exporting'
                ELSE 'clean' END,
            error = CASE WHEN l.state = 'exporting' THEN l.error END,
            computed_at = clock_timestamp() AT TIME ZONE 'UTC',
            write_date = now() AT TIME ZONE 'UTC',
            write_uid = %s
            """,
            self.env.uid,
        )

    def write_levels(self, changed):
        """Write ``(level id, quantity, pool, explanation JSON, hand over)``
        rows in bulk; return the ids of the levels handed over to export, by
        backend id.

        A written level becomes clean; handed over (``hand over`` true) and
        showing the channel another number than it confirmed, exporting. An
        exporting one stays exporting: its export job sends the new number.
        One write per level: a second one in the same transaction would
        check every foreign key of the row again.
        """
        exporting = defaultdict(list)
        # in the order of the table's ids: its pages are visited in order
        changed = sorted(changed, key=itemgetter(0))
        for start in range(0, len(changed), LEVELS_PER_STATEMENT):
            chunk = changed[start : start + LEVELS_PER_STATEMENT]
            ids, qtys, pools, texts, hand_over = (list(c) for c in zip(*chunk))
            with planner_settings(
                self.cr,
                enable_hashjoin=WRITE_ENABLE_HASHJOIN,
                enable_mergejoin=WRITE_ENABLE_MERGEJOIN,
            ):
                self.cr.execute(
                    SQL(
                        """
                        UPDATE distribution_stock_level l
                        SET %s
                        FROM unnest(%s::int[], %s::float8[], %s::float8[],
                                    %s::jsonb[], %s::bool[])
                            AS v(id, qty, pool, explanation, hand_over)
                        WHERE l.id = v.id
                        RETURNING l.id, l.backend_id,
                                  v.hand_over AND l.state = 'exporting'
                        """,
                        self._written_values(),
                        ids,
                        qtys,
                        pools,
                        texts,
                        hand_over,
                    )
                )
                written = self.cr.fetchall()
            for level_id, backend_id, handed_over in written:
                if handed_over:
                    exporting[backend_id].append(level_id)
        if changed:
            self.env["distribution.stock.level"].invalidate_model(
                [*COMPUTED_FIELDS, "to_recompute", "write_date", "write_uid"]
            )
        return dict(exporting)
