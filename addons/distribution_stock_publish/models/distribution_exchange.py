import json
from collections import defaultdict

from odoo import api, models
from odoo.tools import SQL

from odoo.addons.distribution_sync.flows.order_import import OrderImport

from ..engine.query import BACKLOG_STATES


class DistributionExchange(models.Model):
    """Channel orders in the inbox are stock the channel sold: their lines
    are kept as backlog lines (``distribution.backlog.line``) until the
    exchange is done or ignored, so that no channel offers those units
    meanwhile. The webhook's insert is left as it is: the lines are read
    when the processing is enqueued, in batches, or by the sweep."""

    _inherit = "distribution.exchange"

    def _mark_dispatched(self, job_uuids):
        result = super()._mark_dispatched(job_uuids)
        self._store_backlog_lines()
        return result

    def write(self, vals):
        result = super().write(vals)
        if vals.get("state") and vals["state"] not in BACKLOG_STATES:
            self._drop_backlog_lines()
        return result

    @api.model
    def _store_pending_backlog_lines(self):
        """Backlog lines of the channel orders not applied and not read yet
        (their dispatcher has not run, or they came before this module)."""
        self.flush_model(["state", "direction", "kind"])
        self.env.cr.execute(
            SQL(
                """
                SELECT exchange.id FROM distribution_exchange exchange
                WHERE exchange.state IN %s AND exchange.direction = 'in'
                  AND exchange.kind = %s
                  AND NOT EXISTS (SELECT 1 FROM distribution_backlog_line line
                                  WHERE line.exchange_id = exchange.id)
                ORDER BY exchange.id
                """,
                BACKLOG_STATES,
                OrderImport.kind,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            self.browse(ids)._store_backlog_lines()

    def _store_backlog_lines(self):
        """Read the lines of the channel orders among these exchanges (once
        each) into backlog lines, and mark their products dirty."""
        orders = self.filtered(
            lambda exchange: (
                exchange.direction == "in"
                and exchange.kind == OrderImport.kind
                and exchange.state in BACKLOG_STATES
            )
        )
        if not orders:
            return
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT exchange_id FROM distribution_backlog_line "
                "WHERE exchange_id = ANY(%s)",
                orders.ids,
            )
        )
        read = {row[0] for row in self.env.cr.fetchall()}
        orders = orders.filtered(lambda exchange: exchange.id not in read)
        rows = []
        for backend in orders.backend_id:
            exchanges = orders.filtered(lambda e, b=backend: e.backend_id == b)
            adapter = backend._get_adapter()
            read_orders = [(e, *e._order_lines(adapter)) for e in exchanges]
            products = self._products_by_sku(
                backend, {sku for _e, _ref, lines in read_orders for sku, _q in lines}
            )
            for exchange, order_ref, lines in read_orders:
                quantities = defaultdict(float)
                for sku, quantity in lines:
                    if sku in products:
                        quantities[products[sku]] += quantity
                if not quantities:
                    quantities[None] = 0.0  # read: nothing of ours to deduct
                rows += [
                    (exchange.id, backend.id, order_ref, product_id, quantity)
                    for product_id, quantity in quantities.items()
                ]
        if not rows:
            return
        exchange_ids, backend_ids, refs, product_ids, quantities = map(list, zip(*rows))
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO distribution_backlog_line (
                    exchange_id, backend_id, company_id, order_ref, product_id,
                    quantity)
                SELECT v.exchange_id, v.backend_id, backend.company_id,
                       v.order_ref, v.product_id, v.quantity
                FROM unnest(%s::int[], %s::int[], %s::varchar[], %s::int[],
                            %s::float8[])
                    AS v(exchange_id, backend_id, order_ref, product_id, quantity)
                JOIN distribution_backend backend ON backend.id = v.backend_id
                ON CONFLICT (exchange_id, COALESCE(product_id, 0)) DO NOTHING
                RETURNING exchange_id, backend_id, order_ref, product_id, quantity
                """,
                exchange_ids,
                backend_ids,
                refs,
                product_ids,
                quantities,
            )
        )
        self._lower_bases(self.env.cr.fetchall())
        self.env["distribution.stock.level"]._mark_products_dirty(
            {product_id for product_id in product_ids if product_id}
        )

    def _lower_bases(self, inserted):
        """The channel sold these units before it sent the order: the number
        it shows already went down, so the basis of its stock level goes
        down too (its next export adds only what else moved). Counted once
        per channel order and product: not for an order Odoo already has,
        nor for another version of an order already waiting."""
        first = {}
        for exchange_id, backend_id, order_ref, product_id, quantity in inserted:
            if product_id and quantity:
                key = (backend_id, order_ref or f"exchange:{exchange_id}", product_id)
                first[key] = max(first.get(key, 0.0), quantity)
        if not first:
            return
        backend_ids, refs, product_ids = (list(c) for c in zip(*first))
        exchange_ids = sorted({row[0] for row in inserted})
        self.env.cr.execute(
            SQL(
                """
                UPDATE distribution_stock_level l
                SET basis_qty = COALESCE(l.basis_qty, l.published_qty, 0) - v.qty,
                    differs = l.computed_qty IS DISTINCT FROM
                        COALESCE(l.basis_qty, l.published_qty, 0) - v.qty
                FROM unnest(%s::int[], %s::varchar[], %s::int[], %s::float8[])
                    AS v(backend_id, order_ref, product_id, qty)
                WHERE l.backend_id = v.backend_id AND l.product_id = v.product_id
                  AND l.published_at IS NOT NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM distribution_binding binding
                      WHERE binding.backend_id = v.backend_id
                        AND binding.res_model = 'sale.order'
                        AND binding.external_id = v.order_ref)
                  AND NOT EXISTS (
                      SELECT 1 FROM distribution_backlog_line line
                      WHERE line.backend_id = v.backend_id
                        AND line.order_ref = v.order_ref
                        AND line.product_id = v.product_id
                        AND line.exchange_id <> ALL(%s))
                """,
                backend_ids,
                refs,
                product_ids,
                list(first.values()),
                exchange_ids,
            )
        )
        self.env["distribution.stock.level"].invalidate_model(["basis_qty", "differs"])

    def _order_lines(self, adapter):
        """(channel order id, [(sku, quantity)]) of this order exchange; no
        line when it cannot be read (its processing job reports why) or is
        cancelled."""
        self.ensure_one()
        try:
            canonical = adapter.to_canonical(self.kind, json.loads(self.raw_body))
            order_ref = str(canonical["external_id"])
            lines = [
                (str(line["sku"]), float(line["quantity"]))
                for line in canonical.get("lines") or []
            ]
        except Exception:  # a malformed order is kept: its job reports it
            return self.external_ref, []
        if canonical.get("status") == "cancelled":
            return order_ref, []
        return order_ref, [(sku, qty) for sku, qty in lines if qty > 0]

    @api.model
    def _products_by_sku(self, backend, skus):
        """{sku: product id} as the order import finds them: the backend's
        SKU mapping, else the one active product with that internal
        reference in the backend's company (or shared)."""
        if not skus:
            return {}
        self.env["distribution.binding"].flush_model()
        self.env["product.product"].flush_model(["default_code", "active"])
        self.env.cr.execute(
            SQL(
                """
                SELECT sku.value, COALESCE(bound.id, coded.product_id)
                FROM unnest(%(skus)s::varchar[]) AS sku(value)
                LEFT JOIN (
                    SELECT binding.external_id, pp.id
                    FROM distribution_binding binding
                    JOIN product_product pp ON pp.id = binding.res_id
                    WHERE binding.backend_id = %(backend)s
                      AND binding.res_model = 'product.product'
                ) AS bound ON bound.external_id = sku.value
                LEFT JOIN LATERAL (
                    SELECT min(pp.id) AS product_id
                    FROM product_product pp
                    JOIN product_template pt ON pt.id = pp.product_tmpl_id
                    WHERE pp.default_code = sku.value AND pp.active
                      AND (pt.company_id IS NULL OR pt.company_id = %(company)s)
                    HAVING count(*) = 1
                ) AS coded ON TRUE
                WHERE COALESCE(bound.id, coded.product_id) IS NOT NULL
                """,
                skus=sorted(skus),
                backend=backend.id,
                company=backend.company_id.id,
            )
        )
        return dict(self.env.cr.fetchall())

    def _drop_backlog_lines(self):
        """These exchanges are applied or set aside: their lines no longer
        count; their products are recomputed."""
        if not self.ids:
            return
        self.env.cr.execute(
            SQL(
                "DELETE FROM distribution_backlog_line WHERE exchange_id = ANY(%s) "
                "RETURNING product_id",
                self.ids,
            )
        )
        self.env["distribution.stock.level"]._mark_products_dirty(
            {row[0] for row in self.env.cr.fetchall() if row[0]}
        )
