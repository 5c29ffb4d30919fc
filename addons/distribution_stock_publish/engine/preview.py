"""The rule form's preview: every channel's result for one product, with
the rules as given (a form's unsaved rule included), and the product's
stock per warehouse."""

from odoo.tools import SQL

from .evaluation import partitions_by_rule
from .query import source_sets


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
