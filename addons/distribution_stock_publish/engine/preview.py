"""The rule form's preview: every channel's result for one product, with
the rules as given (a form's unsaved rule included), and what is available
of the product in each warehouse."""

from .evaluation import partitions_by_rule
from .query import BASIS_MEASURES, FREE, ON_HAND, SourceSet, lay_out, source_sets


class Preview:
    """The engine's preview of one product."""

    def preview(self, product, specs):
        """Each channel's result for one product: list of dicts with ``spec``,
        ``pool``, ``quantity`` and ``steps`` (the explanation)."""
        self.env.flush_all()
        sets = source_sets(specs)
        partitions = partitions_by_rule(specs)
        row = self.read_stock(sets, [product.id]).get(product.id)
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
        """[(warehouse name, {measure: quantity})] of one product, for
        display: every term of the free basis in each warehouse of the
        product's companies that has one."""
        warehouses = self.env["stock.warehouse"].search(
            [("company_id", "in", product.company_id.ids or self.env.companies.ids)]
        )
        measures = [ON_HAND, *BASIS_MEASURES[FREE]]
        sets = [
            SourceSet((f"{warehouse.view_location_id.parent_path}%",), measures, i)
            for i, warehouse in enumerate(warehouses)
        ]
        lay_out(sets)
        row = self.read_stock(sets, [product.id]).get(product.id)
        if row is None:
            return []
        lines = []
        for warehouse, sources in zip(warehouses, sets, strict=True):
            values = {m: row[sources.columns[m]] for m in measures}
            if any(values.values()):
                lines.append((warehouse.name, values))
        return lines
