"""WooCommerce REST API v3 payloads -> canonical objects.

Webhooks of the ``order.*`` topics carry the order resource. Amounts are
decimal strings in the order's currency; texts may hold HTML entities.
Tax rates come from the order's ``tax_lines`` (``rate_percent``, recorded
since WooCommerce 3.7; before, derived from the order's amounts). A payload
that does not have the documented shape raises a ``PermanentError`` of kind
``invalid_payload`` naming the JSON path.
"""

import hashlib
import html
import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from odoo.addons.distribution_connector.adapters.tools import (
    compact,
    country_or_none,
    email_or_none,
    invalid_payload,
    json_number,
    parse_decimal,
)

#: WooCommerce order status -> canonical order status
ORDER_STATUSES = {
    "pending": "open",
    "on-hold": "open",
    "failed": "open",
    "checkout-draft": "open",
    "processing": "paid",
    "completed": "paid",
    # refunded: it was paid; money back is a return, not a cancellation
    "refunded": "paid",
    "cancelled": "cancelled",
    "trash": "cancelled",
}


def resource_event_id(payload):
    """Event id of one version of a WooCommerce resource (see module doc)."""
    significant = {key: value for key, value in payload.items() if key != "_links"}
    digest = hashlib.sha256(
        json.dumps(
            significant, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    ).hexdigest()[:32]
    return f"{payload['id']}:{payload.get('date_modified_gmt') or '-'}:{digest}"


# -- readers ------------------------------------------------------------------


def decimal(value, json_path, default=None):
    """A WooCommerce amount (a string like "12.00", or a number) as Decimal."""
    if value is None or value == "":
        return default
    try:
        return parse_decimal(value)
    except (TypeError, ValueError) as err:
        raise invalid_payload(
            f"{json_path}: {value!r} is not a number.", json_path
        ) from err


def text(value):
    """A WooCommerce text, HTML entities decoded (names carry ``&ndash;``,
    tax labels ``&#37;``), stripped; '' for anything else."""
    return html.unescape(value).strip() if isinstance(value, str) else ""


def _gmt(value):
    """``date_*_gmt`` ("2017-03-22T19:28:02") -> RFC 3339 with "Z"."""
    value = text(value)
    if not value:
        return None
    return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


def _full_name(data):
    return " ".join(
        part for part in (text(data.get("first_name")), text(data.get("last_name")))
        if part
    )  # fmt: skip


def _address(data, with_email=True):
    """A WooCommerce billing/shipping object -> canonical address, or None
    when it holds no address (virtual goods have no shipping address)."""
    if not isinstance(data, dict):
        return None
    country = text(data.get("country")).upper()
    email = text(data.get("email")) if with_email else ""
    address = compact(
        {
            "name": _full_name(data),
            "company_name": text(data.get("company")),
            "street": text(data.get("address_1")),
            "street2": text(data.get("address_2")),
            "city": text(data.get("city")),
            "zip": text(data.get("postcode")),
            "state_code": text(data.get("state")),
            "country_code": country_or_none(country),
            "phone": text(data.get("phone")),
            "email": email_or_none(email),
        }
    )
    located = ("street", "street2", "city", "zip", "country_code")
    return address if any(key in address for key in located) else None


def line_sku(item):
    """The line's SKU; without one, ``variation:<id>`` or ``product:<id>``
    (map those to Odoo products with SKU mappings)."""
    sku = text(item.get("sku"))
    if sku:
        return sku
    if item.get("variation_id"):
        return f"variation:{item['variation_id']}"
    if item.get("product_id"):
        return f"product:{item['product_id']}"
    return None


def _tax_rates(payload):
    """rate id (str) -> canonical tax, from the order's ``tax_lines``.

    WooCommerce records ``rate_percent`` on tax lines since 3.7; without it,
    the rate is derived from the order's amounts (:func:`_derived_rate`).
    """
    rates = {}
    tax_lines = payload.get("tax_lines") or []
    if not isinstance(tax_lines, list):
        raise invalid_payload("$.tax_lines is not a list.", "$.tax_lines")
    for index, tax_line in enumerate(tax_lines):
        path = f"$.tax_lines[{index}]"
        if not isinstance(tax_line, dict) or tax_line.get("rate_id") in (None, ""):
            raise invalid_payload(f"{path} has no rate_id.", path)
        rate = decimal(tax_line.get("rate_percent"), f"{path}.rate_percent")
        if rate is None:
            rate = _derived_rate(payload, tax_line, path)
        rates[str(tax_line["rate_id"])] = (
            compact({"name": text(tax_line.get("label")) or None, "rate": rate}),
            path,
        )
    return rates


def _derived_rate(payload, tax_line, json_path):
    """The percentage of a tax line without ``rate_percent`` (WooCommerce
    before 3.7), or None when the order's amounts cannot tell it.

    Every amount is rounded, so each one only bounds the rate: the tax
    line's ``tax_total`` and ``shipping_tax_total`` over the totals of the
    lines it taxes, and each line's tax of that ``rate_id`` (its ``taxes``)
    over the line's total and subtotal (a compound rate's base includes the
    line's other taxes). The rate is the simplest percentage within all
    these bounds, the one with the fewest decimals (at most 4, as
    WooCommerce stores rates), when no other has as few: small amounts that
    leave several (19, 20 and 21 %) tell no rate. Amounts that disagree
    beyond their rounding are taken together: the lines' taxes over their
    bases.
    """
    by_line, by_total = _taxed_amounts(payload, tax_line, json_path)
    bounds = [bound for bound in map(_rate_bounds, by_line + by_total) if bound]
    if not bounds:
        return None
    low = max(bound[0] for bound in bounds)
    high = min(bound[1] for bound in bounds)
    if low > high:
        together = _rate_bounds([sum(column) for column in zip(*by_line)])
        if together is None:
            return None
        low, high = together
    return _simplest_percentage(low, high)


def _taxed_amounts(payload, tax_line, json_path):
    """What the order taxed at the tax line's rate, as (tax, base, how far
    the exact tax may be, how far the exact base may be): per line, and
    for the tax line's totals."""
    rate_id = str(tax_line["rate_id"])
    compound = {
        str(line.get("rate_id")): bool(line.get("compound"))
        for line in payload.get("tax_lines")
        if isinstance(line, dict)
    }
    # the exact amounts were rounded to the order's decimals, or more
    precision = _decimals(payload.get("total") or "0.00")

    def amounts(values, path):
        total = sum((decimal(value, path) for value in values), Decimal(0))
        rounding = sum((_rounding(value, precision) for value in values), Decimal(0))
        return total, rounding

    by_line, by_total = [], []
    for key, total_key in (
        ("line_items", "tax_total"),
        ("shipping_lines", "shipping_tax_total"),
    ):
        items = payload.get(key)
        bases = []
        for index, item in enumerate(items if isinstance(items, list) else ()):
            path = f"$.{key}[{index}]"
            entries = item.get("taxes") if isinstance(item, dict) else None
            taxes = {
                str(entry.get("id")): entry
                for entry in (entries if isinstance(entries, list) else ())
                if isinstance(entry, dict)
            }
            own = taxes.get(rate_id)
            for column in ("total", "subtotal") if own else ():
                if own.get(column) in (None, "") or item.get(column) in (None, ""):
                    continue
                base_values = [item[column]]
                if compound.get(rate_id):
                    base_values += [
                        other[column]
                        for other_id, other in taxes.items()
                        if not compound.get(other_id)
                        and other.get(column) not in (None, "")
                    ]
                tax, tax_rounding = amounts([own[column]], f"{path}.taxes")
                base, base_rounding = amounts(base_values, path)
                by_line.append((tax, base, tax_rounding, base_rounding))
                if column == "total":
                    bases.append((base, base_rounding))
        if bases and tax_line.get(total_key) not in (None, ""):
            tax, tax_rounding = amounts(
                [tax_line[total_key]], f"{json_path}.{total_key}"
            )
            by_total.append(
                (
                    tax,
                    sum(base for base, _rounding in bases),
                    tax_rounding * len(bases),
                    sum(rounding for _base, rounding in bases),
                )
            )
    return by_line, by_total


def _decimals(value):
    """Decimals an amount is written with ("4.8": 1, "12.00": 2, 3: 0)."""
    text = str(value)
    return len(text.split(".", 1)[1]) if "." in text else 0


def _rounding(value, precision):
    """How far the exact amount may be from ``value``, rounded to
    ``precision`` decimals, or to more when it is written with more."""
    return Decimal("0.5").scaleb(-max(precision, _decimals(value)))


def _rate_bounds(amounts):
    """(lowest, highest) percentage a (tax, base, tax rounding, base
    rounding) allows; None without a base."""
    tax, base, tax_rounding, base_rounding = amounts
    if base - base_rounding <= 0:
        return None
    low = max(Decimal(0), tax - tax_rounding) * 100 / (base + base_rounding)
    high = (tax + tax_rounding) * 100 / (base - base_rounding)
    return low, high


def _simplest_percentage(low, high):
    """The percentage with the fewest decimals (at most 4) from ``low`` to
    ``high`` when there is one only; None when there are several (the
    amounts do not tell the rate); the middle when there is none."""
    for places in range(5):
        step = Decimal(1).scaleb(-places)
        first = (low / step).to_integral_value(rounding=ROUND_CEILING)
        last = (high / step).to_integral_value(rounding=ROUND_FLOOR)
        if first == last:
            return first * step
        if first < last:
            return None
    return ((low + high) / 2).quantize(Decimal("0.0001"))


def _line_taxes(item, rates, json_path):
    """Taxes of an item (``taxes[].id`` is a ``tax_lines[].rate_id``)."""
    taxes = []
    entries = item.get("taxes") or []
    if not isinstance(entries, list):
        raise invalid_payload(f"{json_path} is not a list.", json_path)
    for index, entry in enumerate(entries):
        path = f"{json_path}[{index}]"
        if not isinstance(entry, dict):
            raise invalid_payload(f"{path} is not an object.", path)
        if entry.get("total") in (None, "") and entry.get("subtotal") in (None, ""):
            continue  # the rate does not apply to this item
        rate_id = str(entry.get("id"))
        if rate_id not in rates:
            raise invalid_payload(
                f"{path}: tax rate {rate_id} is not among the order's tax_lines.", path
            )
        tax, tax_path = rates[rate_id]
        if tax.get("rate") is None:
            raise invalid_payload(
                f"{tax_path} (rate {rate_id}) has no rate_percent (WooCommerce "
                "3.7 or later records it on each order), and the order's "
                "amounts taxed at that rate do not tell it.",
                f"{tax_path}.rate_percent",
            )
        taxes.append({**tax, "rate": float(tax["rate"])})
    return taxes


def _order_lines(payload, rates):
    lines = []
    items = payload.get("line_items")
    if not isinstance(items, list):
        raise invalid_payload("$.line_items is not a list.", "$.line_items")
    for index, item in enumerate(items):
        path = f"$.line_items[{index}]"
        if not isinstance(item, dict):
            raise invalid_payload(f"{path} is not an object.", path)
        quantity = decimal(item.get("quantity"), f"{path}.quantity", Decimal(0))
        if quantity <= 0:
            continue
        sku = line_sku(item)
        if not sku:
            raise invalid_payload(f"{path} has neither SKU nor product id.", path)
        subtotal = decimal(item.get("subtotal"), f"{path}.subtotal")
        total = decimal(item.get("total"), f"{path}.total", subtotal)
        if subtotal is None:
            subtotal = total if total is not None else Decimal(0)
            total = subtotal
        line = {
            "external_id": str(item["id"]) if item.get("id") is not None else None,
            "sku": sku,
            "name": text(item.get("name")) or None,
            "quantity": json_number(quantity),
            # subtotal is before discounts, total after: the difference is
            # the discount (coupons) on the whole line
            "unit_price": float(subtotal / quantity),
            "discount_amount": float(subtotal - total) if subtotal > total else None,
            "taxes": _line_taxes(item, rates, f"{path}.taxes"),
        }
        lines.append(compact(line) | {"taxes": line["taxes"]})
    return lines


def _shipping_lines(payload, rates):
    shipping = []
    items = payload.get("shipping_lines") or []
    if not isinstance(items, list):
        raise invalid_payload("$.shipping_lines is not a list.", "$.shipping_lines")
    for index, item in enumerate(items):
        path = f"$.shipping_lines[{index}]"
        if not isinstance(item, dict):
            raise invalid_payload(f"{path} is not an object.", path)
        price = decimal(item.get("total"), f"{path}.total", Decimal(0))
        shipping.append(
            compact(
                {
                    "code": text(item.get("method_id")),
                    "name": text(item.get("method_title")),
                    "price": float(price),
                }
            )
            | {"taxes": _line_taxes(item, rates, f"{path}.taxes")}
        )
    return shipping


def _customer(payload, billing, shipping):
    raw_billing = (
        payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    )
    email = text(raw_billing.get("email"))
    name = (
        (billing or {}).get("name")
        or (shipping or {}).get("name")
        or (billing or {}).get("company_name")
        or email
        or "WooCommerce guest"
    )
    customer_id = payload.get("customer_id")
    return compact(
        {
            # 0 is a guest: no account to bind
            "external_id": str(customer_id) if customer_id else None,
            "name": name,
            "email": email_or_none(email),
            "phone": text(raw_billing.get("phone")),
            "company_name": text(raw_billing.get("company")),
        }
    )


def _check_order(payload):
    if not isinstance(payload, dict):
        raise invalid_payload("The order is not a JSON object.", "$")
    if payload.get("id") in (None, "") or isinstance(payload.get("id"), bool):
        raise invalid_payload("The order has no id.", "$.id")


def map_order(payload):
    """A WooCommerce v3 order -> the canonical order (``schemas/order.json``).

    Fee lines have no canonical counterpart: an order with fees is imported
    without them and the order import flags its different total.
    """
    _check_order(payload)
    rates = _tax_rates(payload)
    billing = _address(payload.get("billing"))
    shipping = _address(payload.get("shipping"), with_email=False)
    status = text(payload.get("status"))
    order = compact(
        {
            "external_id": str(payload["id"]),
            "name": text(str(payload.get("number") or "")),
            "created_at": _gmt(payload.get("date_created_gmt")),
            "updated_at": _gmt(payload.get("date_modified_gmt")),
            "currency": text(payload.get("currency")).upper(),
            "taxes_included": bool(payload.get("prices_include_tax")),
            "status": ORDER_STATUSES.get(status, "open"),
            "note": text(payload.get("customer_note")),
            "billing_address": billing,
            "shipping_address": shipping,
        }
    )
    total = decimal(payload.get("total"), "$.total")
    if total is not None:
        order["total"] = float(total)
    order["customer"] = _customer(payload, billing, shipping)
    order["lines"] = _order_lines(payload, rates)
    order["shipping"] = _shipping_lines(payload, rates)
    return order


def map_cancellation(payload):
    """A cancelled WooCommerce order -> ``schemas/order_cancellation.json``."""
    _check_order(payload)
    return compact(
        {
            "external_id": str(payload["id"]),
            "cancelled_at": _gmt(payload.get("date_modified_gmt")),
            "reason": f"Order status {text(payload.get('status'))} in WooCommerce.",
        }
    )


def map_refund_returns(payload):
    """Canonical returns (``schemas/return.json``) of an order's refunds.

    The ``refunds`` of an order payload carry id, reason and total only: a
    refund becomes a return only when its ``line_items`` are known (the
    refund resource of ``orders/<id>/refunds/<refund_id>`` has them, with
    negative quantities); the others are skipped.
    """
    _check_order(payload)
    returns = []
    for index, refund in enumerate(payload.get("refunds") or []):
        path = f"$.refunds[{index}]"
        if not isinstance(refund, dict) or refund.get("id") is None:
            raise invalid_payload(f"{path} has no id.", path)
        lines = []
        for line_index, item in enumerate(refund.get("line_items") or []):
            line_path = f"{path}.line_items[{line_index}]"
            quantity = abs(decimal(item.get("quantity"), line_path, Decimal(0)))
            if quantity and line_sku(item):
                lines.append({"sku": line_sku(item), "quantity": json_number(quantity)})
        if not lines:
            continue
        amount = decimal(refund.get("total", refund.get("amount")), f"{path}.total")
        returns.append(
            compact(
                {
                    "external_id": str(refund["id"]),
                    "order_external_id": str(payload["id"]),
                    "created_at": _gmt(refund.get("date_created_gmt")),
                    "reason": text(refund.get("reason")),
                    "refund_amount": float(abs(amount)) if amount is not None else None,
                    "currency": text(payload.get("currency")).upper() or None,
                }
            )
            | {"lines": lines}
        )
    return returns


#: canonical kind -> the function mapping a WooCommerce payload to it
MAPPERS = {
    "order": map_order,
    "order_cancellation": map_cancellation,
}
