"""What a shipment and a receipt confirmation share: a warehouse or 3PL moved
goods of one transfer, Odoo validates it with the quantities moved.

* the transfer's moves get the quantities confirmed per product, what is
  not confirmed stays for a backorder (Odoo's backorder rule of the
  operation type decides, as when a user answers "Create backorder");
* more than expected, or a product the transfer does not hold, is an
  exception and nothing is validated;
* applied once per backend, whatever the delivery id it comes with: its
  idempotency key, the sender's external id or else a digest of what it
  says (``content_fingerprint``: order or transfer, lines and quantities,
  carrier and tracking, date), is bound to the transfer, in the transaction
  that validates it, before anything moves. The binding's unique index
  holds it: of two transactions applying one key, one fails and is retried,
  then finds it applied. An event whose key is bound already changes
  nothing; its exchange is marked a duplicate of the one that applied it.
  Without an external id, two shipments of the same lines with the same
  tracking and date are one.
"""

from odoo.exceptions import UserError, ValidationError

from odoo.addons.distribution_connector.errors import PermanentError

from . import InboundFlow
from .common import (
    PICKING_MODEL,
    content_fingerprint,
    lock_picking,
    parse_datetime,
    picking_key,
    quantities_by_product,
    raise_first,
)

OPEN = ("done", "cancel")


class PickingConfirmation(InboundFlow):
    #: canonical object, also the prefix of the transfer's binding
    kind = None
    #: exception type of quantities beyond what the transfer expects
    excess_kind = None
    #: canonical field holding when the goods moved
    date_key = None

    # -- entry point -------------------------------------------------------

    def run(self):
        key = self._idempotency_key()
        self.exchange.idempotency_key = key
        self.bindings._lock(self.backend, PICKING_MODEL, key)
        binding = self.bindings._find(self.backend, PICKING_MODEL, key)
        applied = binding._record() if binding else None
        if applied:
            self._mark_duplicate(key, applied)
            return applied
        quantities, skus = quantities_by_product(
            self.env, self.backend, self.data["lines"]
        )
        picking = self._find_picking(quantities)
        if picking.state == "done":
            # The sender may name the first transfer of a chain of partial
            # ones: a new event goes on with its open backorder.
            picking = self._open_backorder(picking) or picking
        if picking.state == "done":
            self._bind(binding, key, picking)
            return picking
        if picking.state == "cancel":
            raise PermanentError(
                f"Transfer {picking.name} is cancelled in Odoo but "
                f"{self.backend.name} reports goods moved for it: check with "
                "the warehouse, then ignore this exception.",
                kind="picking_cancelled",
                key=picking.name,
            )
        lock_picking(picking)
        # claimed before anything moves: of two transactions applying the
        # same key, whatever transfer each one picked, the one that did not
        # see the other's binding fails here, on the unique index
        self._bind(binding, key, picking)
        self._set_quantities(picking, quantities, skus)
        self._before_validate(picking)
        self._validate(picking)
        self._log(picking)
        return picking

    def _idempotency_key(self):
        """What this event does, once per backend: the sender's id of the
        shipment or receipt, else a digest of its content."""
        external_id = self.data.get("external_id")
        if external_id:
            return picking_key(self.kind, external_id)
        digest = content_fingerprint(self.data, date_keys=(self.date_key,))
        return picking_key(f"{self.kind}-content", digest)

    def _mark_duplicate(self, key, picking):
        """Record on the exchange which one applied its key: the exchange
        that stored the key, else (bound before keys were stored) the first
        one that validated the transfer."""
        exchanges = self.env["distribution.exchange"]
        common = [
            ("backend_id", "=", self.backend.id),
            ("state", "=", "done"),
            ("duplicate_of_id", "=", False),
            ("id", "!=", self.exchange.id),
        ]
        original = exchanges.search(
            [*common, ("idempotency_key", "=", key)], order="id", limit=1
        ) or exchanges.search(
            [
                *common,
                ("kind", "=", self.kind),
                ("res_model", "=", PICKING_MODEL),
                ("res_id", "=", picking.id),
            ],
            order="id",
            limit=1,
        )
        self.exchange.write({"is_duplicate": True, "duplicate_of_id": original.id})

    # -- finding the transfer ------------------------------------------------

    def _find_picking(self, quantities):
        raise NotImplementedError

    def _pickings(self, domain):
        return self.env[PICKING_MODEL].search(
            [*domain, ("company_id", "=", self.company.id)], order="id"
        )

    @staticmethod
    def _pick_one(pickings, quantities):
        """The transfer an event is about among several of one order or
        origin: an open one holding every product moved (else the first open
        one), else the last done one (nothing left to do), else the last."""
        open_ones = pickings.filtered(lambda p: p.state not in OPEN)
        if open_ones:
            products = set(quantities)
            for picking in open_ones:
                if products <= set(picking.move_ids.product_id):
                    return picking
            return open_ones[0]
        done = pickings.filtered(lambda p: p.state == "done")
        return done[-1:] or pickings[-1:]

    @staticmethod
    def _open_backorder(picking):
        """First transfer not done yet among the backorders of ``picking``."""
        todo = list(picking.backorder_ids.sorted("id"))
        while todo:
            backorder = todo.pop(0)
            if backorder.state not in OPEN:
                return backorder
            todo.extend(backorder.backorder_ids.sorted("id"))
        return None

    # -- applying ------------------------------------------------------------

    def _set_quantities(self, picking, quantities, skus):
        moves = picking.move_ids.filtered(lambda m: m.state not in OPEN)
        expected = {}
        for move in moves:
            expected[move.product_id] = (
                expected.get(move.product_id, 0.0) + move.product_uom_qty
            )
        excess = []
        for product, quantity in quantities.items():
            allowed = expected.get(product, 0.0)
            if product.uom_id.compare(quantity, allowed) > 0:
                excess.append(
                    PermanentError(
                        f"{self.backend.name} reports {quantity:g} of "
                        f"{skus[product]} for {picking.name}, which expects "
                        f"{allowed:g}: nothing was validated. Check with the "
                        "warehouse, then correct the transfer and retry, or "
                        "ignore this exception.",
                        kind=self.excess_kind,
                        key=skus[product],
                    )
                )
        raise_first(excess, "Also beyond what is expected")
        remaining = dict(quantities)
        for move in moves.sorted("id"):
            take = min(remaining.get(move.product_id, 0.0), move.product_uom_qty)
            remaining[move.product_id] = remaining.get(move.product_id, 0.0) - take
            # what is not confirmed goes to the backorder, reservation included
            move.quantity = take
            move.picked = not move.product_uom.is_zero(take)

    def _before_validate(self, picking):
        """Hook: write what the event says about the transfer."""

    def _validate(self, picking):
        """``button_validate`` as the backorder wizard's "Create backorder"
        answer runs it: no dialog, the rest goes to a backorder."""
        try:
            picking.with_context(skip_backorder=True, skip_sms=True).button_validate()
        except (UserError, ValidationError) as err:
            raise PermanentError(
                f"Odoo refused to validate {picking.name}: {err}",
                kind="validation_failed",
                key=picking.name,
            ) from err
        if picking.state != "done":
            raise PermanentError(
                f"{picking.name} could not be validated without a person: "
                "validate it by hand, then ignore this exception.",
                kind="validation_failed",
                key=picking.name,
            )
        moved_at = parse_datetime(self.data.get(self.date_key))
        if moved_at:
            picking.date_done = moved_at

    def _bind(self, binding, key, picking):
        """Bind ``key`` to ``picking``; ``binding``: the key's binding to a
        transfer deleted since, if any."""
        if binding:
            binding.res_id = picking.id
            return
        self.bindings.create(
            {
                "backend_id": self.backend.id,
                "res_model": PICKING_MODEL,
                "res_id": picking.id,
                "external_id": key,
            }
        )

    def _log(self, picking):
        picking.message_post(
            body=self.env._(
                "Validated from %(backend)s %(kind)s %(ref)s (exchange %(exchange)s).",
                backend=self.backend.name,
                kind=self.kind,
                ref=self.data.get("external_id") or "",
                exchange=self.exchange.id,
            )
        )
