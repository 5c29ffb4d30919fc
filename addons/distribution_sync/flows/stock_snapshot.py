"""Stock snapshot: on-hand quantities a warehouse or 3PL counted in one
location, compared with Odoo's.

Nothing is adjusted here. Each difference is a ``stock_drift`` exception,
one per (backend, product, location), kept up to date by later snapshots and
resolved by itself when a later one matches; a Distribution Manager applies
the count from the exception ("Apply count").

The location is the sender's code mapped to an Odoo location (a location
mapping: a binding of ``stock.location``), else a warehouse code, standing
for its stock location. Odoo's quantity is what its quants hold in the
location and its sub-locations, read in one grouped query.
"""

from odoo import fields

from odoo.addons.distribution_connector.errors import PermanentError

from . import InboundFlow
from .common import (
    LOCATION_MODEL,
    parse_datetime,
    product_skus,
    quantities_by_product,
)

DRIFT = "stock_drift"


class StockSnapshot(InboundFlow):
    kind = "stock_snapshot"

    def run(self):
        location = self._location()
        # two snapshots of one location are compared one after the other
        self.bindings._lock(self.backend, LOCATION_MODEL, str(location.id))
        counted, skus = quantities_by_product(
            self.env, self.backend, self.data["items"], "$.items"
        )
        counted_at = (
            parse_datetime(self.data.get("counted_at")) or self.exchange.received_at
        )
        products = self.env["product.product"].union(*counted)
        complete = self.data.get("complete", False)
        on_hand = self.env["stock.quant"]._distribution_on_hand(
            location, None if complete else products
        )
        if complete:
            # what the count does not list, it found none of
            unlisted = products.browse(
                [pid for pid, qty in on_hand.items() if qty and pid not in products.ids]
            )
            unlisted_skus = product_skus(self.env, self.backend, unlisted)
            for product in unlisted:
                skus[product] = unlisted_skus[product.id] or product.display_name
            products |= unlisted
        products = products.filtered("is_storable")
        self._compare(location, products, counted, on_hand, skus, counted_at)
        return location

    def _location(self):
        code = self.data["location"]
        binding = self.bindings._find(self.backend, LOCATION_MODEL, code)
        location = binding._record() if binding else self.env[LOCATION_MODEL]
        if location:
            return location
        warehouse = self.env["stock.warehouse"].search(
            [("code", "=", code), ("company_id", "=", self.company.id)], limit=1
        )
        if warehouse:
            return warehouse.lot_stock_id
        raise PermanentError(
            f"Location {code} of {self.backend.name} is neither mapped to an "
            f"Odoo location nor a warehouse code of {self.company.name}: add a "
            "location mapping, then retry.",
            kind="unknown_location",
            key=code,
            json_path="$.location",
        )

    def _compare(self, location, products, counted, on_hand, skus, counted_at):
        exceptions = self.env["distribution.exception"]
        open_drifts = {
            exc.product_id: exc
            for exc in exceptions.search(
                [
                    ("backend_id", "=", self.backend.id),
                    ("location_id", "=", location.id),
                    ("product_id", "in", products.ids),
                    ("type", "=", DRIFT),
                    ("state", "=", "open"),
                ]
            )
        }
        for product in products:
            odoo_qty = on_hand.get(product.id, 0.0)
            counted_qty = counted.get(product, 0.0)
            drift = open_drifts.get(product)
            if drift and drift.counted_at and counted_at < drift.counted_at:
                continue  # an older count than the one the exception shows
            if not product.uom_id.compare(counted_qty, odoo_qty):
                if drift:
                    drift.write(
                        {
                            "state": "resolved",
                            "resolved_at": fields.Datetime.now(),
                            "counted_qty": counted_qty,
                            "odoo_qty": odoo_qty,
                            "counted_at": counted_at,
                        }
                    )
                    drift.message_post(
                        body=self.env._(
                            "Resolved: the count of exchange %(exchange)s matches "
                            "Odoo.",
                            exchange=self.exchange.id,
                        )
                    )
                continue
            vals = {
                "exchange_id": self.exchange.id,
                "product_id": product.id,
                "location_id": location.id,
                "odoo_qty": odoo_qty,
                "counted_qty": counted_qty,
                "counted_at": counted_at,
                "key": skus[product],
                "message": (
                    f"{self.backend.name} counts {counted_qty:g} "
                    f"{product.uom_id.name} of {skus[product]} in "
                    f"{location.display_name}; Odoo has {odoo_qty:g} (difference "
                    f"{counted_qty - odoo_qty:+g}). A Distribution Manager may "
                    "apply the count."
                ),
            }
            if drift:
                drift.write({**vals, "occurrences": drift.occurrences + 1})
            else:
                exceptions.create({**vals, "type": DRIFT})
