"""Return: goods a customer sends back (a channel refund with restocking, or
an RMA).

Lines to restock become the return transfer of the order's done deliveries,
made by Odoo's own return wizard (``stock.return.picking``), so that the
return is linked to the moves it returns and the order's delivered
quantities follow. It waits for the goods: a receipt confirmation, or a
user, validates it. Lines refunded without goods coming back create nothing
but a note on the order.

Applied once: the return's id is bound to the return transfer (or to the
order when nothing comes back).
"""

from odoo.exceptions import UserError, ValidationError

from odoo.addons.distribution_connector.errors import PermanentError

from . import InboundFlow
from .common import (
    ORDER_MODEL,
    PICKING_MODEL,
    bound_order,
    find_product,
    is_delivery,
    picking_key,
    raise_first,
    unknown_order,
)


class OrderReturn(InboundFlow):
    kind = "return"

    # -- entry point -------------------------------------------------------

    def run(self):
        data = self.data
        key = picking_key(self.kind, data["external_id"])
        self.bindings._lock(self.backend, PICKING_MODEL, key)
        for model in (PICKING_MODEL, ORDER_MODEL):
            binding = self.bindings._find(self.backend, model, key)
            applied = binding._record() if binding else None
            if applied:
                return applied
        order_ref = data["order_external_id"]
        # the order's lock: two returns of one order never both count what
        # is left to return, and none races the order's own events
        self.bindings._lock(self.backend, ORDER_MODEL, order_ref)
        order = bound_order(self.env, self.backend, order_ref)
        if not order:
            raise unknown_order(self.backend, order_ref)
        quantities, skus = self._restocked()
        returns = self.env[PICKING_MODEL]
        if quantities:
            returns = self._create_returns(order, order_ref, quantities, skus)
        self._note(order, returns)
        for index, record in enumerate(returns or order):
            self.bindings.create(
                {
                    "backend_id": self.backend.id,
                    "res_model": record._name,
                    "res_id": record.id,
                    "external_id": key if not index else f"{key}/{index + 1}",
                }
            )
        return returns[:1] or order

    def _restocked(self):
        """``({product: quantity}, {product: SKU})`` of the lines to restock."""
        quantities, skus, unknown = {}, {}, []
        for index, line in enumerate(self.data["lines"]):
            if not line.get("restock", True):
                continue
            try:
                product = find_product(
                    self.env, self.backend, line["sku"], f"$.lines[{index}].sku"
                )
            except PermanentError as err:
                unknown.append(err)
                continue
            quantities[product] = quantities.get(product, 0.0) + line["quantity"]
            skus.setdefault(product, line["sku"])
        raise_first(unknown, "Also unknown")
        return quantities, skus

    # -- return transfers ----------------------------------------------------

    def _create_returns(self, order, order_ref, quantities, skus):
        deliveries = order.picking_ids.filtered(
            lambda p: is_delivery(p) and p.state == "done"
        ).sorted("id", reverse=True)
        if not deliveries:
            raise PermanentError(
                f"{self.backend.name} reports goods of order {order_ref} coming "
                f"back, but nothing of {order.name} was delivered yet. Check "
                "with the customer service, then ignore this exception.",
                kind="nothing_delivered",
                key=order_ref,
            )
        allocation = self._allocate(deliveries, quantities, skus)
        returns = self.env[PICKING_MODEL]
        for picking in deliveries:
            to_return = {
                move: qty
                for move, qty in allocation.items()
                if move.picking_id == picking
            }
            if to_return:
                returns |= self._return_picking(picking, to_return)
        return returns

    def _allocate(self, deliveries, quantities, skus):
        """``{delivered move: quantity to return}``, latest deliveries first;
        more than what was delivered and not returned yet is an exception."""
        moves = deliveries.move_ids.filtered(
            lambda m: m.state == "done" and m.product_id in quantities
        )
        returnable = {}
        for move in moves:
            returned = sum(
                r.quantity if r.state == "done" else r.product_uom_qty
                for r in move.returned_move_ids
                if r.state != "cancel"
            )
            returnable[move] = move.quantity - returned
        excess = []
        for product, quantity in quantities.items():
            available = sum(q for m, q in returnable.items() if m.product_id == product)
            if product.uom_id.compare(quantity, available) > 0:
                excess.append(
                    PermanentError(
                        f"The return asks {quantity:g} of {skus[product]} back but "
                        f"only {max(available, 0):g} were delivered and not "
                        "returned yet: no return was created. Check the refund, "
                        "then ignore this exception.",
                        kind="return_exceeds_delivery",
                        key=skus[product],
                    )
                )
        raise_first(excess, "Also beyond what was delivered")
        allocation = {}
        remaining = dict(quantities)
        for move in moves:  # deliveries' order: latest first
            take = min(remaining[move.product_id], max(returnable[move], 0.0))
            if not move.product_uom.is_zero(take):
                allocation[move] = take
                remaining[move.product_id] -= take
        return allocation

    def _return_picking(self, picking, to_return):
        """One return of ``picking`` through Odoo's return wizard."""
        try:
            wizard = (
                self.env["stock.return.picking"]
                .with_context(
                    active_id=picking.id,
                    active_ids=picking.ids,
                    active_model=PICKING_MODEL,
                )
                .create({"picking_id": picking.id})
            )
            for line in wizard.product_return_moves:
                line.quantity = to_return.get(line.move_id, 0.0)
            action = wizard.action_create_returns()
        except (UserError, ValidationError) as err:
            raise PermanentError(
                f"Odoo refused the return of {picking.name}: {err}",
                kind="stock_refused",
                key=picking.name,
            ) from err
        return_picking = self.env[PICKING_MODEL].browse(action["res_id"])
        return_picking.message_post(
            body=self.env._(
                "Return %(ref)s of %(backend)s (exchange %(exchange)s).",
                ref=self.data["external_id"],
                backend=self.backend.name,
                exchange=self.exchange.id,
            )
        )
        return return_picking

    # -- note on the order ---------------------------------------------------

    def _note(self, order, returns):
        data = self.data

        def describe(lines):
            return ", ".join(f"{line['quantity']:g} x {line['sku']}" for line in lines)

        restocked = [line for line in data["lines"] if line.get("restock", True)]
        kept = [line for line in data["lines"] if not line.get("restock", True)]
        parts = [
            self.env._(
                "Return %(ref)s from %(backend)s.",
                ref=data["external_id"],
                backend=self.backend.name,
            )
        ]
        if restocked:
            parts.append(
                self.env._(
                    "Coming back (%(pickings)s): %(lines)s.",
                    pickings=", ".join(returns.mapped("name")),
                    lines=describe(restocked),
                )
            )
        if kept:
            parts.append(
                self.env._(
                    "Refunded without a return of the goods: %(lines)s.",
                    lines=describe(kept),
                )
            )
        if data.get("refund_amount") is not None:
            parts.append(
                self.env._(
                    "Refund: %(amount)s %(currency)s.",
                    amount=data["refund_amount"],
                    currency=data.get("currency") or "",
                )
            )
        if data.get("reason"):
            parts.append(self.env._("Reason: %(reason)s", reason=data["reason"]))
        order.message_post(body=" ".join(parts))
