"""EDI documents <-> canonical objects, as pure functions.

Inbound: an 850 / ORDERS becomes a canonical order, an 860 / ORDCHG a
canonical cancellation or a list of line changes. What needs Odoo (which
SKU a buyer part number or GTIN stands for, which address a GLN or store
code is) is asked of the ``partner`` object the adapter passes
(:class:`~.edi.PartnerContext`).

Outbound: the segments of the 997 / CONTRL, 855 / ORDRSP, 856 / DESADV,
810 / INVOIC and 846 / INVRPT bodies, from plain dicts the outbound flow
reads off Odoo's records; the codec (``edi_api``) wraps them in their
envelopes.
"""

from datetime import datetime

from odoo.addons.distribution_connector.adapters.tools import (
    compact,
    invalid_payload,
    json_number,
    parse_decimal,
)

from .edi_api import value

#: X12 product id qualifiers: buyer part number first, then GTINs, then ours
X12_ID_ORDER = ("BP", "IN", "UP", "EN", "UK", "VN", "SK")
X12_GTIN = frozenset({"UP", "EN", "UK"})
#: EDIFACT: LIN 7143 (EN/SRV = GTIN), PIA 7143 (IN buyer's, SA supplier's)
EDIFACT_GTIN = frozenset({"EN", "SRV"})


class EdiSyntaxError(Exception):
    """A transaction set that does not hold what its guide requires: the
    segment (tag, ordinal in the interchange) and element at fault."""

    def __init__(self, message, segment, position, element):
        super().__init__(message)
        self.message = message
        self.segment = segment
        self.position = position
        self.element = element


def _required(transaction, tag, element, what):
    elements = transaction.first(tag)
    found = value(elements, element) if elements else ""
    if not found:
        position = transaction.position + 1
        if elements:
            position += [t for t, _e in transaction.segments].index(tag)
        raise EdiSyntaxError(
            f"{transaction.code} {transaction.control}: {what} "
            f"({tag}{element:02d}) is missing.",
            tag,
            position,
            element,
        )
    return found


def _date(text, time_text=""):
    """CCYYMMDD (or YYMMDD) and HHMM -> ISO 8601 UTC, None when empty."""
    if not text:
        return None
    fmt = "%Y%m%d" if len(text) == 8 else "%y%m%d"
    moment = datetime.strptime(text, fmt)
    if time_text and len(time_text) >= 4:
        moment = moment.replace(hour=int(time_text[:2]), minute=int(time_text[2:4]))
    return moment.isoformat() + "Z"


def _number(text, json_path):
    try:
        return json_number(parse_decimal(text))
    except (TypeError, ValueError) as err:
        raise invalid_payload(f"{text!r} is not a number.", json_path) from err


def interchange_moment(interchange_date, interchange_time):
    """The interchange's own date and time (ISA09/10, UNB 0017/0019) as the
    version of what it says: a later interchange overrides an earlier one."""
    return _date(interchange_date, interchange_time)


# -- X12 inbound -----------------------------------------------------------------


def _x12_ids(elements, start):
    """(qualifier, id) pairs of a PO1/POC from element ``start`` on."""
    pairs = []
    for index in range(start, len(elements), 2):
        qualifier, identifier = value(elements, index), value(elements, index + 1)
        if qualifier and identifier:
            pairs.append((qualifier, identifier))
    return sorted(
        pairs,
        key=lambda p: X12_ID_ORDER.index(p[0]) if p[0] in X12_ID_ORDER else 99,
    )


def _x12_parties(transaction):
    """{N101 code: {name, qualifier, id, street, city, zip, state, country}}."""
    parties = {}
    current = None
    for tag, elements in transaction.segments:
        if tag == "N1":
            current = parties.setdefault(
                value(elements, 1),
                compact(
                    {
                        "name": value(elements, 2),
                        "qualifier": value(elements, 3),
                        "id": value(elements, 4),
                    }
                ),
            )
        elif tag == "N3" and current is not None:
            current.update(
                compact({"street": value(elements, 1), "street2": value(elements, 2)})
            )
        elif tag == "N4" and current is not None:
            current.update(
                compact(
                    {
                        "city": value(elements, 1),
                        "state_code": value(elements, 2),
                        "zip": value(elements, 3),
                        "country_code": value(elements, 4),
                    }
                )
            )
        elif tag not in ("N2", "PER", "REF"):
            current = None
    return parties


def _x12_dates(transaction):
    return {value(e, 1): value(e, 2) for e in transaction.find("DTM")}


def order_from_x12_850(transaction, partner, moment):
    """A canonical order of an X12 850 (004010/005010)."""
    po_number = _required(transaction, "BEG", 3, "the purchase order number")
    beg = transaction.first("BEG")
    parties = _x12_parties(transaction)
    cur = transaction.first("CUR")
    lines = []
    item_id = None
    for tag, elements in transaction.segments:
        if tag == "PO1":
            index = len(lines)
            path = f"$.PO1[{index}]"
            item_id = value(elements, 1) or str(index + 1)
            lines.append(
                compact(
                    {
                        "external_id": item_id,
                        "sku": partner.sku(_x12_ids(elements, 6), f"{path}.PO107"),
                        "quantity": _number(value(elements, 2), f"{path}.PO102"),
                        "unit_price": _number(
                            value(elements, 4) or "0", f"{path}.PO104"
                        ),
                    }
                )
            )
        elif tag == "PID" and lines and value(elements, 5):
            lines[-1].setdefault("name", value(elements, 5))
    if not lines:
        raise EdiSyntaxError(
            f"850 {transaction.control} has no PO1 line.",
            "PO1",
            transaction.position,
            0,
        )
    buyer = parties.get("BY") or {}
    order = {
        "external_id": po_number,
        "name": po_number,
        "created_at": _date(value(beg, 5)),
        "updated_at": moment,
        "currency": value(cur, 2) or partner.currency(),
        "customer": partner.customer(buyer.get("id"), buyer.get("name")),
        "shipping_address": partner.ship_to(parties.get("ST") or {}),
        "lines": lines,
    }
    return compact(order)


def requested_ship_date_x12(transaction):
    """DTM*010 (requested ship), else DTM*002 (delivery requested)."""
    dates = _x12_dates(transaction)
    return _date(dates.get("010") or dates.get("002") or "")


def change_from_x12_860(transaction, moment):
    """An 860: ``("cancel", canonical cancellation)`` for BCH01 01 (cancel),
    else ``("change", {external_id, updated_at, changes})``: each change
    ``{line_id, action: add|delete|change, quantity, unit_price, ids}``."""
    purpose = _required(transaction, "BCH", 1, "the purpose code")
    po_number = _required(transaction, "BCH", 3, "the purchase order number")
    if purpose == "01":
        return "cancel", compact(
            {
                "external_id": po_number,
                "cancelled_at": moment,
                "reason": "Cancelled by the buyer (860).",
            }
        )
    actions = {
        "AI": "add",
        "DI": "delete",
        "CA": "change",
        "QD": "change",
        "QI": "change",
        "PC": "change",
    }
    changes = []
    for tag, elements in transaction.segments:
        if tag != "POC":
            continue
        path = f"$.POC[{len(changes)}]"
        quantity = value(elements, 3)
        price = value(elements, 6)
        changes.append(
            {
                "line_id": value(elements, 1),
                "action": actions.get(value(elements, 2), "change"),
                "quantity": _number(quantity, f"{path}.POC03") if quantity else None,
                "unit_price": _number(price, f"{path}.POC06") if price else None,
                "ids": _x12_ids(elements, 8),
                "path": path,
            }
        )
    return "change", {
        "external_id": po_number,
        "updated_at": moment,
        "changes": changes,
    }


# -- EDIFACT inbound -----------------------------------------------------------------


def _edifact_groups(transaction, opener):
    """Segments grouped from each ``opener`` tag to the next (a line group
    of LIN and what follows it)."""
    groups = []
    for tag, elements in transaction.segments:
        if tag == opener:
            groups.append([(tag, elements)])
        elif tag == "UNS":
            break
        elif groups:
            groups[-1].append((tag, elements))
    return groups


def _edifact_line(group, partner, path):
    lin = group[0][1]
    ids = []
    for tag, elements in group:
        if tag == "PIA":
            for index in range(2, len(elements) + 1):
                code, qualifier = value(elements, index, 1), value(elements, index, 2)
                if code:
                    ids.append(("BP" if qualifier == "IN" else qualifier, code))
    gtin, gtin_type = value(lin, 3, 1), value(lin, 3, 2)
    if gtin:
        ids.append(("EN" if gtin_type in EDIFACT_GTIN else gtin_type, gtin))
    ids.sort(key=lambda p: X12_ID_ORDER.index(p[0]) if p[0] in X12_ID_ORDER else 99)
    line = {"external_id": value(lin, 1), "action": value(lin, 2)}
    for tag, elements in group:
        if tag == "QTY" and value(elements, 1, 1) in ("21", "113"):
            line["quantity"] = _number(value(elements, 1, 2), f"{path}.QTY")
        elif tag == "PRI" and value(elements, 1, 1) in ("AAA", "AAB"):
            line["unit_price"] = _number(value(elements, 1, 2), f"{path}.PRI")
        elif tag == "IMD" and value(elements, 3, 4):
            line["name"] = value(elements, 3, 4)
    line["ids"] = ids
    return line


def _edifact_parties(transaction, partner):
    parties = {}
    for tag, elements in transaction.segments:
        if tag == "NAD":
            parties[value(elements, 1)] = compact(
                {
                    "id": value(elements, 2, 1),
                    "qualifier": "UL" if value(elements, 2, 3) == "9" else "92",
                    "name": value(elements, 4, 1) or value(elements, 3, 1),
                    "street": value(elements, 5, 1),
                    "city": value(elements, 6),
                    "zip": value(elements, 8),
                    "country_code": value(elements, 9),
                }
            )
        elif tag == "LIN":
            break
    return parties


def _edifact_dates(transaction):
    dates = {}
    for tag, elements in transaction.segments:
        if tag == "DTM":
            dates.setdefault(value(elements, 1, 1), value(elements, 1, 2))
        elif tag == "LIN":
            break
    return dates


def order_from_edifact_orders(transaction, partner, moment):
    """A canonical order of an EDIFACT ORDERS (D96A / D01B, EANCOM)."""
    po_number = _required(transaction, "BGM", 2, "the order number")
    parties = _edifact_parties(transaction, partner)
    dates = _edifact_dates(transaction)
    cux = transaction.first("CUX")
    lines = []
    for index, group in enumerate(_edifact_groups(transaction, "LIN")):
        path = f"$.LIN[{index}]"
        line = _edifact_line(group, partner, path)
        if "quantity" not in line:
            raise EdiSyntaxError(
                f"ORDERS {transaction.control}: line {line['external_id']} has no "
                "ordered quantity (QTY+21).",
                "QTY",
                transaction.position,
                1,
            )
        lines.append(
            compact(
                {
                    "external_id": line["external_id"] or str(index + 1),
                    "sku": partner.sku(line["ids"], f"{path}.LIN03"),
                    "quantity": line["quantity"],
                    "unit_price": line.get("unit_price", 0),
                    "name": line.get("name"),
                }
            )
        )
    if not lines:
        raise EdiSyntaxError(
            f"ORDERS {transaction.control} has no LIN line.",
            "LIN",
            transaction.position,
            0,
        )
    buyer = parties.get("BY") or {}
    ship_to = parties.get("DP") or parties.get("ST") or {}
    return compact(
        {
            "external_id": po_number,
            "name": po_number,
            "created_at": _date(dates.get("137", "")),
            "updated_at": moment,
            "currency": value(cux, 1, 2) or partner.currency(),
            "customer": partner.customer(buyer.get("id"), buyer.get("name")),
            "shipping_address": partner.ship_to(ship_to),
            "lines": lines,
        }
    )


def requested_ship_date_edifact(transaction):
    """DTM+10 (shipment requested), else DTM+2 (delivery requested)."""
    dates = _edifact_dates(transaction)
    return _date(dates.get("10") or dates.get("2") or "")


def change_from_edifact_ordchg(transaction, moment):
    """An ORDCHG: BGM 1225 ``1`` cancels the order; otherwise its LIN
    groups change it (LIN 1229: ``1`` added, ``2`` deleted, ``3`` changed)."""
    po_number = _required(transaction, "BGM", 2, "the order number")
    function = value(transaction.first("BGM"), 3)
    if function == "1":
        return "cancel", compact(
            {
                "external_id": po_number,
                "cancelled_at": moment,
                "reason": "Cancelled by the buyer (ORDCHG).",
            }
        )
    actions = {"1": "add", "2": "delete", "3": "change"}
    changes = []
    for index, group in enumerate(_edifact_groups(transaction, "LIN")):
        path = f"$.LIN[{index}]"
        line = _edifact_line(group, None, path)
        changes.append(
            {
                "line_id": line["external_id"],
                "action": actions.get(line["action"], "change"),
                "quantity": line.get("quantity"),
                "unit_price": line.get("unit_price"),
                "ids": line["ids"],
                "path": path,
            }
        )
    return "change", {
        "external_id": po_number,
        "updated_at": moment,
        "changes": changes,
    }


# -- outbound: acknowledgments ---------------------------------------------------------


#: AK905 (functional group syntax error) of an envelope error
AK9_CODES = {("GS", 8): "2", ("GE", 0): "3", ("GE", 2): "4", ("GE", 1): "5"}


def x12_997(interchange):
    """The 997 of a received X12 interchange: AK1 for its group, AK2/AK5
    per transaction set (AK3/AK4 naming the segment and element at fault),
    AK9 for the group. An interchange with any error is applied in none of
    its sets: all are rejected, those at fault with AK502 5 (segments in
    error)."""
    errors = interchange.errors
    segments = [
        ("AK1", interchange.group_function or "", interchange.group_control or "")
    ]
    for transaction in interchange.transactions:
        own = [e for e in errors if e.transaction == transaction.control]
        segments.append(("AK2", transaction.code, transaction.control))
        for error in own:
            segments.append(
                ("AK3", error.segment, error.position - transaction.position + 1)
            )
            if error.element:
                segments.append(("AK4", error.element, "", "7"))
        if own:
            segments.append(("AK5", "R", "5"))
        else:
            segments.append(("AK5", "R" if errors else "A"))
    count = len(interchange.transactions)
    ak9 = ["AK9", "R" if errors else "A", count, count, 0 if errors else count]
    codes = [
        AK9_CODES[(e.segment, e.element)]
        for e in errors
        if e.transaction is None and (e.segment, e.element) in AK9_CODES
    ]
    segments.append(tuple(ak9 + codes[:1]))
    return segments


def edifact_contrl(interchange):
    """The CONTRL of a received EDIFACT interchange: UCI (7 accepted, 4
    rejected), then UCM per message with UCS/UCD at the segment and
    element at fault."""
    errors = interchange.errors
    envelope_errors = [e for e in errors if e.transaction is None]
    sender = [interchange.sender or "", interchange.sender_qualifier or ""]
    recipient = [interchange.recipient or "", interchange.recipient_qualifier or ""]
    uci = ["UCI", interchange.control or "", sender, recipient, "7"]
    if envelope_errors:
        first = envelope_errors[0]
        uci[4] = "4"
        uci += ["12", first.segment, [str(first.element)] if first.element else ""]
    segments = [tuple(uci)]
    for transaction in interchange.transactions:
        own = [e for e in errors if e.transaction == transaction.control]
        version = transaction.version or ""
        segments.append(
            (
                "UCM",
                transaction.control,
                [transaction.code, version[:1], version[1:]],
                "4" if own else "7",
            )
        )
        for error in own:
            segments.append(("UCS", error.position - transaction.position + 1))
            if error.element:
                segments.append(("UCD", "12", [str(error.element)]))
    return segments


# -- outbound: business documents ---------------------------------------------


def _d8(moment):
    return f"{moment:%Y%m%d}"


def x12_855(order):
    """855 purchase order acknowledgment: BAK (AC accepted with changes
    when a quantity differs, else AD/AK...), PO1 + ACK per line."""
    segments = [
        (
            "BAK",
            "00",
            order["status"],
            order["po_number"],
            _d8(order["po_date"]),
            "",
            "",
            "",
            order["our_ref"],
            _d8(order["date"]),
        ),
        ("REF", "VN", order["our_ref"]),
    ]
    for line in order["lines"]:
        segments.append(
            (
                "PO1",
                line["line_id"],
                line["quantity"],
                "EA",
                line["unit_price"],
                "",
                "BP" if line.get("buyer_part") else "VN",
                line.get("buyer_part") or line["sku"],
                "VN",
                line["sku"],
            )
        )
        segments.append(
            (
                "ACK",
                line["ack"],
                line["quantity"],
                "EA",
                "068",
                _d8(line["ship_date"]) if line.get("ship_date") else "",
            )
        )
    segments.append(("CTT", len(order["lines"])))
    return segments


def edifact_ordrsp(order):
    """ORDRSP: BGM+231 (29 accepted without change, 4 changed), the order
    referred to, a LIN/QTY per line."""
    function = "29" if order["status"] == "AD" else "4"
    segments = [
        ("BGM", "231", order["our_ref"], function),
        ("DTM", ("137", _d8(order["date"]), "102")),
        ("RFF", ("ON", order["po_number"])),
        ("DTM", ("171", _d8(order["po_date"]), "102")),
    ]
    for line in order["lines"]:
        segments.append(("LIN", line["line_id"], "", _edifact_item(line)))
        segments.append(("QTY", ("21", line["quantity"])))
        if line.get("ship_date"):
            segments.append(("DTM", ("2", _d8(line["ship_date"]), "102")))
    segments.append(("UNS", "S"))
    segments.append(("CNT", ("2", len(order["lines"]))))
    return segments


def _edifact_item(line):
    if line.get("gtin"):
        return (line["gtin"], "EN")
    return (
        line.get("buyer_part") or line["sku"],
        "IN" if line.get("buyer_part") else "SA",
    )


def x12_856(shipment):
    """856 advance ship notice, pick and pack structure: HL shipment (TD5
    carrier, REF*CN tracking, N1*ST), HL order (PRF), one HL pack per
    package (MAN*GM SSCC-18), HL item (LIN, SN1) under it."""
    segments = [
        (
            "BSN",
            "00",
            shipment["shipment_id"],
            _d8(shipment["date"]),
            f"{shipment['date']:%H%M}",
            "0001",
        ),
        ("HL", 1, "", "S"),
        ("TD1", "CTN25", len(shipment["packages"])),
    ]
    if shipment.get("carrier"):
        segments.append(("TD5", "", "2", shipment["carrier"]))
    if shipment.get("tracking"):
        segments.append(("REF", "CN", shipment["tracking"]))
    segments.append(("DTM", "011", _d8(shipment["date"])))
    ship_to = shipment.get("ship_to") or {}
    if ship_to.get("id"):
        segments.append(
            ("N1", "ST", ship_to.get("name", ""), ship_to["qualifier"], ship_to["id"])
        )
    segments.append(("HL", 2, 1, "O"))
    segments.append(("PRF", shipment["po_number"], "", "", _d8(shipment["po_date"])))
    number = 2
    for package in shipment["packages"]:
        number += 1
        pack = number
        segments.append(("HL", pack, 2, "P"))
        segments.append(("MAN", "GM", package["sscc"]))
        for item in package["items"]:
            number += 1
            segments.append(("HL", number, pack, "I"))
            segments.append(("LIN", item["line_id"], *_x12_item_ids(item)))
            segments.append(("SN1", "", item["quantity"], "EA"))
    segments.append(("CTT", number))
    return segments


def _x12_item_ids(item):
    ids = []
    if item.get("buyer_part"):
        ids += ["BP", item["buyer_part"]]
    ids += ["VN", item["sku"]]
    if item.get("gtin"):
        ids += ["UP" if len(item["gtin"]) == 12 else "EN", item["gtin"]]
    return ids


def edifact_desadv(shipment):
    """DESADV (EANCOM): BGM+351, the order referred to, NAD+DP, the
    consignment's tracking, then per package CPS/PAC/PCI+33E/GIN+BJ (its
    SSCC) and its LIN/QTY+12 lines."""
    segments = [
        ("BGM", "351", shipment["shipment_id"], "9"),
        ("DTM", ("137", _d8(shipment["date"]), "102")),
        ("DTM", ("11", _d8(shipment["date"]), "102")),
        ("RFF", ("ON", shipment["po_number"])),
    ]
    ship_to = shipment.get("ship_to") or {}
    if ship_to.get("id"):
        segments.append(("NAD", "DP", (ship_to["id"], "", "9")))
    if shipment.get("tracking"):
        segments.append(("RFF", ("CN", shipment["tracking"])))
    if shipment.get("carrier"):
        segments.append(("TDT", "20", "", "", "", ("", "", "", shipment["carrier"])))
    segments.append(("CPS", "1"))
    for index, package in enumerate(shipment["packages"], start=2):
        segments.append(("CPS", str(index), "1"))
        segments.append(("PAC", "1", "", "CT"))
        segments.append(("PCI", "33E"))
        segments.append(("GIN", "BJ", package["sscc"]))
        for item in package["items"]:
            segments.append(("LIN", item["line_id"], "", _edifact_item(item)))
            segments.append(("QTY", ("12", item["quantity"])))
            segments.append(("RFF", ("ON", shipment["po_number"])))
    segments.append(("CNT", ("2", sum(len(p["items"]) for p in shipment["packages"]))))
    return segments


def x12_810(invoice):
    """810 invoice: BIG, REF*VN, N1 remit-to/ship-to, IT1 per line, TDS
    total in cents, TXI taxes, CTT."""
    segments = [
        (
            "BIG",
            _d8(invoice["date"]),
            invoice["number"],
            _d8(invoice["po_date"]),
            invoice["po_number"],
        ),
        ("CUR", "SE", invoice["currency"]),
        ("N1", "RE", invoice["company"]),
    ]
    ship_to = invoice.get("ship_to") or {}
    if ship_to.get("id"):
        segments.append(
            ("N1", "ST", ship_to.get("name", ""), ship_to["qualifier"], ship_to["id"])
        )
    for line in invoice["lines"]:
        segments.append(
            (
                "IT1",
                line["line_id"],
                line["quantity"],
                "EA",
                line["unit_price"],
                "",
                *_x12_item_ids(line),
            )
        )
    segments.append(("TDS", round(invoice["total"] * 100)))
    if invoice["tax"]:
        segments.append(("TXI", "TX", invoice["tax"]))
    segments.append(("CTT", len(invoice["lines"])))
    return segments


def edifact_invoic(invoice):
    """INVOIC (EANCOM): BGM+380, the order referred to, NAD+BY/SU, CUX,
    LIN/QTY+47/MOA+203/PRI+AAA per line, then MOA+86 (total), MOA+125
    (taxable), MOA+176 (tax)."""
    segments = [
        ("BGM", "380", invoice["number"], "9"),
        ("DTM", ("137", _d8(invoice["date"]), "102")),
        ("RFF", ("ON", invoice["po_number"])),
        ("DTM", ("171", _d8(invoice["po_date"]), "102")),
        ("NAD", "BY", (invoice["buyer_id"], "", "9")),
        ("NAD", "SU", (invoice["our_id"], "", "9")),
        ("CUX", ("2", invoice["currency"], "4")),
    ]
    for line in invoice["lines"]:
        segments.append(("LIN", line["line_id"], "", _edifact_item(line)))
        segments.append(("QTY", ("47", line["quantity"])))
        segments.append(("MOA", ("203", line["subtotal"])))
        segments.append(("PRI", ("AAA", line["unit_price"])))
    segments.append(("UNS", "S"))
    segments.append(("CNT", ("2", len(invoice["lines"]))))
    segments.append(("MOA", ("86", invoice["total"])))
    segments.append(("MOA", ("125", invoice["untaxed"])))
    segments.append(("MOA", ("176", invoice["tax"])))
    return segments


def x12_846(report):
    """846 inventory inquiry/advice: BIA, then LIN + QTY*33 (available) per
    item."""
    segments = [("BIA", "00", "MM", report["reference"], _d8(report["date"]))]
    for item in report["items"]:
        segments.append(("LIN", "", *_x12_item_ids(item)))
        segments.append(("QTY", "33", item["quantity"], "EA"))
    segments.append(("CTT", len(report["items"])))
    return segments


def edifact_invrpt(report):
    """INVRPT: BGM+35, DTM+137, then LIN + QTY+145 (stock available) per
    item."""
    segments = [
        ("BGM", "35", report["reference"], "9"),
        ("DTM", ("137", _d8(report["date"]), "102")),
    ]
    for index, item in enumerate(report["items"], start=1):
        segments.append(("LIN", str(index), "", _edifact_item(item)))
        segments.append(("QTY", ("145", item["quantity"])))
    segments.append(("UNS", "S"))
    return segments
