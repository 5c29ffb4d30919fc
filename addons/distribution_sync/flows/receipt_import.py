"""Receipt confirmation: a warehouse or 3PL received goods of an incoming
transfer (a supplier's delivery or a customer's return).

The receipt is found by its reference, else by its origin (a purchase order
name, or "Return of ..." for a return). A partial receipt leaves a
backorder.
"""

from odoo.addons.distribution_connector.errors import PermanentError

from .picking_confirmation import PickingConfirmation


class ReceiptImport(PickingConfirmation):
    kind = "receipt"
    excess_kind = "over_receipt"
    date_key = "received_at"

    def _find_picking(self, quantities):
        name = self.data["picking_name"]
        incoming = [("picking_type_code", "=", "incoming")]
        picking = self._pickings([*incoming, ("name", "=", name)])
        if picking:
            return picking[:1]
        pickings = self._pickings([*incoming, ("origin", "=", name)])
        if pickings:
            return self._pick_one(pickings, quantities)
        raise PermanentError(
            f"No receipt {name} in {self.company.name}, neither by reference "
            "nor by origin.",
            kind="unknown_picking",
            key=name,
            json_path="$.picking_name",
        )
