"""An inbound interchange: envelope checked, each purchase order and change
applied through the suite's own flows, acknowledged once.

* **Envelope**: read by the codec (separators from the interchange itself),
  checked for its counts and control numbers, its sender and recipient
  (the backend's partner and our ids) and its version. Any error rejects
  the whole interchange: nothing is applied, a rejecting 997 / CONTRL names
  the segment and element, and the exchange opens an ``invalid_payload``
  exception whose path is that segment and element (raw payload kept).
* **Once**: the interchange's control number (with its sender) is bound to
  the exchange that applied it; the same interchange sent again (another
  file, the same ISA13 / UNB 0020) is ignored, with the exchange it was
  applied by. Each purchase order is also imported once by its number (the
  order import's own binding).
* **Documents**: 850 / ORDERS -> canonical order -> order import (confirmed
  when the backend confirms, its requested ship date as the order's
  commitment date); 860 / ORDCHG -> cancellation, or the order as changed
  -> order import (a confirmed order that changed opens ``order_changed``
  for review, as for every channel). 997 / CONTRL received (the partner's
  acknowledgments of what we sent) change nothing.
"""

from odoo.addons.distribution_connector.errors import (
    NotAppliedError,
    PermanentError,
)
from odoo.addons.distribution_sync.flows import InboundFlow
from odoo.addons.distribution_sync.flows.common import (
    ORDER_MODEL,
    bound_order,
    parse_datetime,
    product_skus,
    unknown_order,
)
from odoo.addons.distribution_sync.flows.order_cancellation import OrderCancellation
from odoo.addons.distribution_sync.flows.order_import import OrderImport
from odoo.addons.distribution_sync.tools import schemas

from ..adapters import edi_mapping

EXCHANGE_MODEL = "distribution.exchange"
ORDERS = ("850", "ORDERS")
CHANGES = ("860", "ORDCHG")
ACKNOWLEDGMENTS = ("997", "999", "CONTRL")
VERSIONS = {"004010": ("00401", "004010"), "005010": ("00501", "005010")}


class EdiRejected(PermanentError):
    """An interchange refused for its syntax: ``interchange`` holds the
    errors its rejecting acknowledgment names."""

    def __init__(self, interchange):
        first = interchange.errors[0]
        others = len(interchange.errors) - 1
        message = (
            f"Interchange {interchange.control or '?'} rejected: {first.where()}: "
            f"{first.message}"
            + (f" ({others} more error{'s' if others > 1 else ''})" if others else "")
        )
        super().__init__(
            message,
            kind="invalid_payload",
            key=f"{first.segment}{first.element:02d}"
            if first.element
            else first.segment,
            json_path=first.where(),
            details="\n".join(f"{e.where()}: {e.message}" for e in interchange.errors),
        )
        self.interchange = interchange


def interchange_key(interchange):
    return f"interchange:{interchange.sender}:{interchange.control}"


class InterchangeImport(InboundFlow):
    kind = "edi_interchange"

    def __init__(self, exchange):
        self.adapter = exchange.backend_id._get_adapter()
        self.interchange = self.adapter.parse_body({}, exchange._edi_body())
        super().__init__(exchange, self.interchange)

    def run(self):
        interchange = self.interchange
        self.check_partner()
        if interchange.errors:
            raise EdiRejected(interchange)
        key = interchange_key(interchange)
        self.bindings._lock(self.backend, EXCHANGE_MODEL, key)
        applied = self.bindings._find(self.backend, EXCHANGE_MODEL, key)
        if applied and applied.res_id != self.exchange.id:
            raise NotAppliedError(
                f"Interchange {interchange.control} from {interchange.sender} was "
                f"applied already (exchange {applied.res_id}): nothing imported "
                "again.",
                record=applied._record(),
                key=key,
            )
        result = None
        for transaction in interchange.transactions:
            try:
                result = self.apply(transaction) or result
            except edi_mapping.EdiSyntaxError as err:
                interchange.error(
                    err.segment,
                    err.position,
                    err.element,
                    err.message,
                    transaction=transaction.control,
                )
                raise EdiRejected(interchange) from err
        if not applied:
            self.bindings.create(
                {
                    "backend_id": self.backend.id,
                    "res_model": EXCHANGE_MODEL,
                    "res_id": self.exchange.id,
                    "external_id": key,
                }
            )
        return result

    def check_partner(self):
        """The interchange comes from the backend's partner, to us, in the
        agreed standard and version."""
        interchange = self.interchange
        backend = self.backend
        if interchange.errors or not interchange.standard:
            return
        x12 = interchange.standard == "x12"
        header = "ISA" if x12 else "UNB"
        if interchange.standard != backend.edi_standard:
            interchange.error(
                header,
                1,
                0,
                f"{backend.name} trades {backend.edi_standard}, not "
                f"{interchange.standard}.",
            )
            return
        if backend.edi_partner_id and interchange.sender != backend.edi_partner_id:
            interchange.error(
                header,
                1,
                6 if x12 else 2,
                f"Sender {interchange.sender} is not {backend.name}'s partner id "
                f"{backend.edi_partner_id}.",
            )
        if backend.edi_our_id and interchange.recipient != backend.edi_our_id:
            interchange.error(
                header,
                1,
                8 if x12 else 3,
                f"Recipient {interchange.recipient} is not our id "
                f"{backend.edi_our_id}.",
            )
        if x12:
            expected = VERSIONS.get(backend.edi_version, ())
            if expected and interchange.group_version != expected[1]:
                interchange.error(
                    "GS",
                    2,
                    8,
                    f"Version {interchange.group_version} is not the agreed "
                    f"{backend.edi_version}.",
                )
        else:
            for transaction in interchange.transactions:
                if transaction.code in ACKNOWLEDGMENTS:
                    continue  # CONTRL has its own version (D:3, D:4)
                if transaction.version != backend.edi_version:
                    interchange.error(
                        "UNH",
                        transaction.position,
                        2,
                        f"Message {transaction.control} is {transaction.version}, "
                        f"not the agreed {backend.edi_version}.",
                        transaction=transaction.control,
                    )

    # -- documents -------------------------------------------------------------------

    def apply(self, transaction):
        payload = (transaction, self.interchange)
        if transaction.code in ORDERS:
            canonical = schemas.validate(
                "order", self.adapter.to_canonical("order", payload)
            )
            order = OrderImport(self.exchange, canonical).run()
            ship_date = self.adapter.requested_ship_date(transaction)
            if ship_date and order.state != "cancel" and not order.commitment_date:
                order.commitment_date = parse_datetime(ship_date)
            return order
        if transaction.code in CHANGES:
            action, data = self.adapter.to_canonical("edi_change", payload)
            if action == "cancel":
                data = schemas.validate("order_cancellation", data)
                return OrderCancellation(self.exchange, data).run()
            canonical = schemas.validate("order", self.changed_order(data))
            return OrderImport(self.exchange, canonical).run()
        if transaction.code in ACKNOWLEDGMENTS:
            return None
        raise edi_mapping.EdiSyntaxError(
            f"{transaction.code} documents are not handled from {self.backend.name}.",
            "ST" if self.interchange.standard == "x12" else "UNH",
            transaction.position,
            1 if self.interchange.standard == "x12" else 2,
        )

    def changed_order(self, change):
        """The canonical order as an 860 / ORDCHG leaves it: the order as
        imported, its lines changed, deleted or added."""
        external_id = change["external_id"]
        self.bindings._lock(self.backend, ORDER_MODEL, external_id)
        order = bound_order(self.env, self.backend, external_id)
        if not order:
            raise unknown_order(self.backend, external_id, json_path="$.BCH03")
        order_lines = order.order_line.filtered("distribution_line_external_id")
        skus = product_skus(self.env, self.backend, order_lines.product_id)
        lines = {
            line.distribution_line_external_id: {
                "external_id": line.distribution_line_external_id,
                "sku": skus[line.product_id.id] or line.product_id.default_code,
                "quantity": line.product_uom_qty,
                "unit_price": line.price_unit,
            }
            for line in order_lines
        }
        context = self.adapter.partner_context(self.interchange)
        for item in change["changes"]:
            line_id = item["line_id"]
            if item["action"] == "delete":
                lines.pop(line_id, None)
                continue
            line = lines.get(line_id)
            if line is None:
                line = lines[line_id] = {
                    "external_id": line_id,
                    "sku": context.sku(item["ids"], item["path"]),
                    "unit_price": 0,
                }
            if item["quantity"] is not None:
                line["quantity"] = item["quantity"]
            if item["unit_price"] is not None:
                line["unit_price"] = item["unit_price"]
        return edi_mapping.compact(
            {
                "external_id": external_id,
                "name": external_id,
                "updated_at": change["updated_at"],
                "currency": order.currency_id.name,
                "customer": {"name": order.partner_id.name},
                "lines": [line for line in lines.values() if line.get("quantity")],
            }
        )
