"""The rule stack applied to a catalog: one evaluator per rule, which runs
the pure functions of :mod:`.rules` once per distinct input (pool and safety
stock) and looks the rest up, and the explanation of each result.

Most products of a rule share a pool and a safety stock, so a catalog costs
a few passes over lists rather than a call of the rule stack per level.
"""

import json
from dataclasses import dataclass
from operator import itemgetter

from odoo.tools import SQL

from .query import BASIS_MEASURES, INCOMING, ON_HAND, basis_quantities
from .rules import apply_partition, apply_rules, json_number


@dataclass
class Partition:
    """The partitioned rules that split one pool."""

    members: list
    #: rule id -> index in members
    index: dict
    #: results of apply_partition by input key (set by the first evaluator of
    #: a member, shared by the others)
    results: "ResultsByInput" = None
    #: input_key(product_id, pool) -> the key in ``results`` (None: the pool
    #: is the key)
    input_key: object = None


def partitions_by_rule(specs):
    """rule id -> Partition of the partitioned rules of ``specs``."""
    groups = {}
    for spec in specs:
        key = spec.partition_key
        if key is not None:
            groups.setdefault(key, []).append(spec)
    by_rule = {}
    for members in groups.values():
        partition = Partition(members, {spec.id: i for i, spec in enumerate(members)})
        for spec in members:
            by_rule[spec.id] = partition
    return by_rule


class ResultsByInput(dict):
    """Results of a pure function by its input, computed on first use:
    ``results[key]`` is ``function(key)``."""

    __slots__ = ("function",)

    def __init__(self, function):
        super().__init__()
        self.function = function

    def __missing__(self, key):
        value = self[key] = self.function(key)
        return value


class RuleEvaluation:
    """The engine's evaluation of the rule stack and its explanations."""

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
        # the spec is kept with its result so that id(spec) stays its own
        self._resolved_categories[id(spec)] = (resolved, spec)
        return resolved

    def evaluators(self, specs, partitions, categories):
        """{rule id: evaluate(product_ids, rows) -> (pools, results)}, one
        function per rule, specialised for speed. ``rows`` are the products'
        stock rows, in the order of ``product_ids`` (None: no stock, or the
        product is archived); ``pools`` the basis quantity of each product and
        ``results`` its ``(quantity, steps)``. ``categories`` maps product ids
        to category ids (only needed by rules with category overrides).

        Each function computes the rule stack once per distinct input (pool
        and safety stock) and looks the rest up. Each also has
        ``by_pool(pools) -> results``: the results of products without an
        override (see :meth:`_overridden_products`).
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
        pools_of = basis_quantities(spec)
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
            results_by_input = ResultsByInput(
                lambda key: apply_rules(key[0], params, safeties[key[1]])
            )

            def evaluate_with_overrides(product_ids, rows):
                pools = pools_of(rows)
                keys = zip(pools, map(id, map(resolve, product_ids)))
                return pools, list(map(results_by_input.__getitem__, keys))

            default_key = id(spec.default_safety)
            evaluate_with_overrides.by_pool = lambda pools: [
                results_by_input[pool, default_key] for pool in pools
            ]
            return evaluate_with_overrides
        default = spec.default_safety
        results_by_pool = ResultsByInput(
            lambda pool: apply_rules(pool, params, default)
        )

        def evaluate(product_ids, rows):
            pools = pools_of(rows)
            return pools, list(map(results_by_pool.__getitem__, pools))

        evaluate.by_pool = lambda pools: list(map(results_by_pool.__getitem__, pools))
        return evaluate

    def _overridden_products(self, spec, partition, categories):
        """Ids of the products whose result on ``spec`` is not its
        ``by_pool`` result: a product or category override applies (to the
        product on a partition's member, for a partition)."""
        members = partition.members if partition is not None else [spec]
        products = set().union(*(member.product_safety for member in members))
        covered = self._covered_categories(members)
        if covered:
            products.update(p for p, categ in categories.items() if categ in covered)
        return products

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
        """The members of a partition share their results: the first
        member's level of a product computes every member's part."""
        position = partition.index[spec.id]
        if partition.results is None:
            partition.results, partition.input_key = self._partition_results(
                partition, categories
            )
        results_by_input, input_key = partition.results, partition.input_key
        own_part = itemgetter(position)

        def evaluate(product_ids, rows):
            pools = pools_of(rows)
            keys = (
                pools if input_key is None else list(map(input_key, product_ids, pools))
            )
            return pools, list(map(own_part, map(results_by_input.__getitem__, keys)))

        def by_pool(pools):
            keys = pools if input_key is None else [(pool, 0) for pool in pools]
            return list(map(own_part, map(results_by_input.__getitem__, keys)))

        evaluate.by_pool = by_pool
        return evaluate

    def _partition_results(self, partition, categories):
        """(the partition's results by input key, input_key(product_id, pool)
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
            return ResultsByInput(lambda pool: split(pool, default)), None

        def input_key(product_id, pool):
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

        return ResultsByInput(compute), input_key

    def explanation(self, spec, row, archived, steps):
        """The steps with the pool's details, as a list of dicts: each
        measure of the basis, and ``no_stock`` when nothing is on hand in
        the sources (nor, on the forecast basis, on its way)."""
        pool_step = json.loads(self._pool_step_writer(spec)(row, archived, steps[0]))
        return [pool_step, *steps[1:]]

    def _pool_step_writer(self, spec):
        """write(row, archived, pool step) -> the JSON text of the pool step
        of ``spec`` with its details (see :meth:`explanation`), written
        without building a dict: it is written for every level written."""
        writer = self._pool_step_writers.get(spec.id)
        if writer is not None and writer.spec is spec:
            return writer
        measures = [ON_HAND, *BASIS_MEASURES.get(spec.basis, [])]
        columns = [spec.source_set.columns[measure] for measure in measures]
        incoming = measures.index(INCOMING) if INCOMING in measures else None
        names = [json.dumps(measure) for measure in measures]
        fixed = json.dumps({"basis": spec.basis, "sources": spec.sources})[1:-1]
        zeros = [0.0] * len(columns)

        def write(row, archived, pool_step):
            head = f'{{"step": "pool", "qty": {json_number(pool_step["qty"])}, {fixed}'
            if archived:
                return f'{head}, "archived": true}}'
            values = zeros if row is None else [round(row[c], 6) for c in columns]
            details = "".join(
                f", {name}: {json_number(value)}"
                for name, value in zip(names, values, strict=True)
            )
            if values[0] <= 0 and (incoming is None or values[incoming] <= 0):
                details += ', "no_stock": true'
            return f"{head}{details}}}"

        write.spec = spec
        self._pool_step_writers[spec.id] = write
        return write

    def _explanation_json(self, spec, row, archived, steps, steps_after_pool_json):
        """JSON text of the explanation. The steps after the pool are shared
        by every product with the same inputs, so they are serialized once:
        ``steps_after_pool_json`` is ``{id(steps): (their JSON, steps)}``,
        kept by the caller for one run."""
        serialized = steps_after_pool_json.get(id(steps))
        if serialized is None:
            serialized = steps_after_pool_json[id(steps)] = (
                "".join("," + json.dumps(step) for step in steps[1:]),
                steps,  # keeps id(steps) alive and unique
            )
        head = self._pool_step_writer(spec)(row, archived, steps[0])
        return f"[{head}{serialized[0]}]"

    def _products_info(self, product_ids, category_ids):
        """(archived product ids, {product id: category id} of the products in
        ``category_ids``)."""
        if product_ids is not None:
            # a batch: its products by id, and each one's template by id
            # (a hash join would read every template of the catalog)
            self.cr.execute(
                SQL(
                    """
                    SELECT pp.id, pp.active,
                           (SELECT pt.categ_id FROM product_template pt
                            WHERE pt.id = pp.product_tmpl_id)
                    FROM product_product pp
                    WHERE pp.id = ANY(%s)
                    """,
                    list(product_ids),
                )
            )
            rows = self.cr.fetchall()
            archived = {product for product, active, _categ in rows if not active}
            categories = {
                product: categ
                for product, _active, categ in rows
                if categ in category_ids
            }
            return archived, categories
        self.cr.execute(
            SQL("SELECT pp.id FROM product_product pp WHERE pp.active IS NOT TRUE")
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
                    WHERE pt.categ_id = ANY(%s)
                    """,
                    sorted(category_ids),
                )
            )
            categories = dict(self.cr.fetchall())
        return archived, categories
