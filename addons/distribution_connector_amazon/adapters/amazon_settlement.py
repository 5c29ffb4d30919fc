"""Amazon's settlement report (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2``)
-> canonical settlement (``schemas/settlement.json`` of distribution_sync).

The report is a tab-separated file, one header row of the documented
columns (``settlement-id``, ``settlement-start-date``,
``settlement-end-date``, ``deposit-date``, ``total-amount``, ``currency``,
``transaction-type``, ``order-id``, ``adjustment-id``, ``amount-type``,
``amount-description``, ``amount``, ``posted-date``, ``sku``...). The first
data row is the settlement's summary (its id, period, deposit date, total
and currency); every other row is one amount of one transaction.

Canonical lines, per order and transaction: an ``Order`` (or ``Refund``) is
one line whose amount is what the buyer paid (or got back): item prices,
taxes, shipping, gift wrap and promotions, to match the order's invoice (or
credit note); Amazon's fees on it (commissions, FBA fees, withheld taxes)
are its ``fee_amount``, fees Amazon gives back an ``adjustment`` line. Rows
of no order (subscription, storage fees, reimbursements, reserves) are a
``fee`` line each when they take money, an ``adjustment`` when they give.
"""

import csv
import io
from decimal import Decimal

from odoo.addons.distribution_connector.adapters.tools import (
    compact,
    invalid_payload,
    json_number,
    parse_decimal,
)

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
REQUIRED_COLUMNS = (
    "settlement-id",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "amount-type",
    "amount-description",
    "amount",
)
#: amount types of what the buyer pays (or is refunded); any other amount
#: type on an order is Amazon's (fees, withheld taxes)
BUYER_AMOUNT_TYPES = frozenset({"ItemPrice", "Promotion"})
LINE_TYPES = {"Order": "order", "Refund": "refund"}


def _date(value):
    """``2025-03-01 09:15:00 UTC`` (or ISO 8601, or ``01.03.2025``) ->
    RFC 3339, None when empty or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    value = value.removesuffix(" UTC").replace(" ", "T")
    if value.endswith(("Z", "+00:00")):
        return value
    if "T" in value and len(value) >= 19:
        return value[:19] + "Z"
    if len(value) == 10 and value[2] == "." and value[5] == ".":
        return f"{value[6:]}-{value[3:5]}-{value[:2]}T00:00:00Z"
    if len(value) == 10:
        return value + "T00:00:00Z"
    return None


def _amount(row, index, column="amount"):
    text = (row.get(column) or "").strip()
    if not text:
        return Decimal(0)
    try:
        # the V2 file writes a decimal point; older EU files a comma
        return parse_decimal(text.replace(",", "."))
    except (TypeError, ValueError) as err:
        raise invalid_payload(
            f"Row {index} of the settlement report: {column} {text!r} is not a number.",
            f"$.document[{index}].{column}",
        ) from err


def rows_of(document):
    """The report's rows as dicts; checks the documented columns."""
    reader = csv.DictReader(io.StringIO(document), delimiter="\t")
    missing = [
        name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or [])
    ]
    if missing:
        raise invalid_payload(
            "The settlement report lacks the columns " + ", ".join(missing) + ".",
            "$.document",
        )
    return list(reader)


def map_settlement_report(payload):
    """A stored settlement report (``{"reportId", "document"}``) ->
    canonical settlement."""
    document = payload.get("document") if isinstance(payload, dict) else None
    if not isinstance(document, str) or not document.strip():
        raise invalid_payload("The payload has no report document.", "$.document")
    rows = rows_of(document)
    if not rows or not (rows[0].get("settlement-id") or "").strip():
        raise invalid_payload(
            "The settlement report has no summary row.", "$.document[1]"
        )
    summary = rows[0]
    settlement_id = summary["settlement-id"].strip()
    currency = (summary.get("currency") or "").strip().upper()
    if not currency:
        raise invalid_payload(
            f"Settlement {settlement_id} names no currency.", "$.document[1].currency"
        )
    groups = {}
    others = []
    for index, row in enumerate(rows[1:], start=2):
        amount = _amount(row, index)
        transaction = (row.get("transaction-type") or "").strip()
        order_id = (row.get("order-id") or "").strip()
        line_type = LINE_TYPES.get(transaction)
        if not (order_id and line_type):
            others.append((index, row, amount))
            continue
        group = groups.setdefault(
            (line_type, order_id),
            {
                "buyer": Decimal(0),
                "fees": Decimal(0),
                "date": None,
                "id": row.get("adjustment-id") or row.get("shipment-id") or "",
            },
        )
        if (row.get("amount-type") or "").strip() in BUYER_AMOUNT_TYPES:
            group["buyer"] += amount
        else:
            group["fees"] += amount
        group["date"] = group["date"] or _date(
            row.get("posted-date-time") or row.get("posted-date")
        )
    lines = []
    for (line_type, order_id), group in groups.items():
        fees = group["fees"]
        lines.append(
            compact(
                {
                    "external_id": (group["id"] or "").strip(),
                    "type": line_type,
                    "external_order_id": order_id,
                    "amount": json_number(group["buyer"]),
                    "fee_amount": json_number(-fees) if fees < 0 else None,
                    "date": group["date"],
                    "description": f"{line_type.title()} {order_id}",
                }
            )
        )
        if fees > 0:
            lines.append(
                compact(
                    {
                        "type": "adjustment",
                        "amount": json_number(fees),
                        "date": group["date"],
                        "description": f"Fees given back on {order_id}",
                    }
                )
            )
    for _index, row, amount in others:
        if not amount:
            continue
        what = " / ".join(
            part
            for part in (
                (row.get("transaction-type") or "").strip(),
                (row.get("amount-type") or "").strip(),
                (row.get("amount-description") or "").strip(),
                (row.get("sku") or "").strip(),
            )
            if part
        )
        lines.append(
            compact(
                {
                    "type": "fee" if amount < 0 else "adjustment",
                    "amount": json_number(amount),
                    "date": _date(
                        row.get("posted-date-time") or row.get("posted-date")
                    ),
                    "description": what[:1000],
                }
            )
        )
    return compact(
        {
            "external_id": settlement_id,
            "currency": currency,
            "payout_date": _date(summary.get("deposit-date")),
            "period_start": _date(summary.get("settlement-start-date")),
            "period_end": _date(summary.get("settlement-end-date")),
            "payout_amount": json_number(_amount(summary, 1, "total-amount")),
            "lines": lines,
        }
    )
