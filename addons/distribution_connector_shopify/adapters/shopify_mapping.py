"""Shopify webhook payloads (REST Admin API resources) -> canonical objects.

Webhooks carry the REST resource of their topic: an Order for ``orders/*``, a
Refund for ``refunds/create``. Amounts are decimal strings in the shop's
currency (``currency``); tax rates are fractions (0.2 for 20 %). Every value
read is checked: a payload that does not have the documented shape raises a
``PermanentError`` of kind ``invalid_payload`` naming the JSON path.
"""

from datetime import datetime
from decimal import Decimal

from odoo.addons.distribution_connector.adapters.tools import (
    COUNTRY_RE,
    compact,
    email_or_none,
    invalid_payload,
    parse_decimal,
)
from odoo.addons.distribution_connector.adapters.tools import (
    json_number as number,
)
from odoo.addons.distribution_connector.errors import (
    PermanentError,
    RefusedEventError,
)

PAID_STATUSES = {"paid", "partially_refunded", "refunded"}
NO_RESTOCK = "no_restock"


def invalid(message, path):
    return invalid_payload(f"Shopify payload: {message} at {path}.", path)


# -- readers: the documented shape or an error naming the JSON path ----------


def require(data, key, path):
    if not isinstance(data, dict) or data.get(key) is None:
        raise invalid(f"missing {key}", f"{path}.{key}")
    return data[key]


def as_dict(value, path, optional=True):
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise invalid("expected an object", path)
    return value


def as_list(value, path):
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid("expected a list", path)
    return value


def as_id(value, path):
    """Shopify ids are integers (strings of digits in some payloads)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid("expected an id", path)
    text = str(value).strip()
    if not text.isdigit():
        raise invalid(f"expected a numeric id, got {text!r}", path)
    return text


def as_decimal(value, path):
    """A money amount or a quantity: Shopify sends decimal strings."""
    if isinstance(value, Decimal):
        raise invalid("expected a number", path)  # JSON has no Decimal
    try:
        return parse_decimal(value)
    except TypeError as err:
        raise invalid("expected a number", path) from err
    except ValueError as err:
        raise invalid(f"expected a number, got {value!r}", path) from err


def as_text(value, path, optional=True):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise invalid("expected a string", path)
    return value.strip() or None


def as_timestamp(value, path, optional=True):
    text = as_text(value, path, optional=optional)
    if text is None:
        if optional:
            return None
        raise invalid("missing timestamp", path)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise invalid(f"expected an ISO 8601 timestamp, got {text!r}", path) from err
    if moment.tzinfo is None:
        raise invalid(f"timestamp {text!r} has no time zone", path)
    return text


# -- pieces -------------------------------------------------------------------


def line_sku(line, path):
    """The line's SKU; ``variant:<id>`` when the variant has none, so that a
    SKU mapping on the backend can name the product; ``custom:<title>`` for a
    custom line item that has no variant either."""
    sku = as_text(line.get("sku"), f"{path}.sku")
    if sku:
        return sku[:255]
    if line.get("variant_id") is not None:
        return "variant:" + as_id(line["variant_id"], f"{path}.variant_id")
    title = as_text(line.get("title"), f"{path}.title") or as_text(
        line.get("name"), f"{path}.name"
    )
    if title:
        return f"custom:{title}"[:255]
    raise invalid("line item without SKU, variant or title", path)


def discounts(allocations, path):
    total = Decimal(0)
    for index, allocation in enumerate(as_list(allocations, path)):
        item_path = f"{path}[{index}]"
        amount = as_decimal(
            require(as_dict(allocation, item_path, False), "amount", item_path),
            f"{item_path}.amount",
        )
        if amount < 0:
            raise invalid("negative discount", f"{item_path}.amount")
        total += amount
    return total


def taxes(tax_lines, path):
    found = []
    for index, tax in enumerate(as_list(tax_lines, path)):
        item_path = f"{path}[{index}]"
        tax = as_dict(tax, item_path, False)
        rate = as_decimal(require(tax, "rate", item_path), f"{item_path}.rate")
        if not 0 <= rate <= 1:
            raise invalid(f"tax rate {rate} is not a fraction", f"{item_path}.rate")
        found.append(
            compact(
                {
                    "name": as_text(tax.get("title"), f"{item_path}.title"),
                    "rate": number((rate * 100).normalize()),
                }
            )
        )
    return found


def address(value, path):
    data = as_dict(value, path)
    if not data:
        return None
    name = as_text(data.get("name"), f"{path}.name") or " ".join(
        filter(
            None,
            [
                as_text(data.get("first_name"), f"{path}.first_name"),
                as_text(data.get("last_name"), f"{path}.last_name"),
            ],
        )
    )
    country = (as_text(data.get("country_code"), f"{path}.country_code") or "").upper()
    if country and not COUNTRY_RE.match(country):
        raise invalid(f"country code {country!r}", f"{path}.country_code")
    state = as_text(data.get("province_code"), f"{path}.province_code")
    if state and country and state.upper().startswith(f"{country}-"):
        state = state[len(country) + 1 :]  # "JP-13" -> "13"
    return (
        compact(
            {
                "name": name,
                "company_name": as_text(data.get("company"), f"{path}.company"),
                "street": as_text(data.get("address1"), f"{path}.address1"),
                "street2": as_text(data.get("address2"), f"{path}.address2"),
                "city": as_text(data.get("city"), f"{path}.city"),
                "zip": as_text(data.get("zip"), f"{path}.zip"),
                "state_code": state,
                "country_code": country,
                "phone": as_text(data.get("phone"), f"{path}.phone"),
            }
        )
        or None
    )


def email(value, path):
    return email_or_none(as_text(value, path))


def customer(order, billing, shipping):
    data = as_dict(order.get("customer"), "$.customer")
    name = " ".join(
        filter(
            None,
            [
                as_text(data.get("first_name"), "$.customer.first_name"),
                as_text(data.get("last_name"), "$.customer.last_name"),
            ],
        )
    )
    mail = email(data.get("email"), "$.customer.email") or email(
        order.get("email"), "$.email"
    )
    name = (
        name
        or (billing or {}).get("name")
        or (shipping or {}).get("name")
        or mail
        or "Shopify customer"
    )
    return compact(
        {
            "external_id": as_id(data["id"], "$.customer.id")
            if data.get("id") is not None
            else None,
            "name": name,
            "email": mail,
            "phone": as_text(data.get("phone"), "$.customer.phone")
            or as_text(order.get("phone"), "$.phone"),
            "company_name": (billing or {}).get("company_name"),
        }
    )


def order_lines(order):
    lines = []
    items = as_list(require(order, "line_items", "$"), "$.line_items")
    for index, item in enumerate(items):
        path = f"$.line_items[{index}]"
        item = as_dict(item, path, False)
        quantity = as_decimal(require(item, "quantity", path), f"{path}.quantity")
        if quantity <= 0:
            continue  # removed by an order edit: nothing to sell
        price = as_decimal(require(item, "price", path), f"{path}.price")
        if price < 0:
            raise invalid("negative price", f"{path}.price")
        discount = discounts(
            item.get("discount_allocations"), f"{path}.discount_allocations"
        )
        lines.append(
            compact(
                {
                    "external_id": as_id(item["id"], f"{path}.id")
                    if item.get("id") is not None
                    else None,
                    "sku": line_sku(item, path),
                    "name": as_text(item.get("name"), f"{path}.name")
                    or as_text(item.get("title"), f"{path}.title"),
                    "quantity": number(quantity),
                    "unit_price": number(price),
                    "discount_amount": number(discount) if discount else None,
                    "taxes": taxes(item.get("tax_lines"), f"{path}.tax_lines"),
                }
            )
        )
    if not lines:
        raise invalid("no line item with a positive quantity", "$.line_items")
    return lines


def shipping_lines(order):
    found = []
    for index, line in enumerate(
        as_list(order.get("shipping_lines"), "$.shipping_lines")
    ):
        path = f"$.shipping_lines[{index}]"
        line = as_dict(line, path, False)
        if line.get("is_removed"):
            continue
        price = as_decimal(require(line, "price", path), f"{path}.price")
        price -= discounts(
            line.get("discount_allocations"), f"{path}.discount_allocations"
        )
        found.append(
            compact(
                {
                    "code": as_text(line.get("code"), f"{path}.code"),
                    "name": as_text(line.get("title"), f"{path}.title"),
                    "price": number(max(price, Decimal(0))),
                    "taxes": taxes(line.get("tax_lines"), f"{path}.tax_lines"),
                }
            )
        )
    return found


def order_status(order):
    if order.get("cancelled_at"):
        return "cancelled"
    financial = as_text(order.get("financial_status"), "$.financial_status")
    return "paid" if financial in PAID_STATUSES else "open"


# -- canonical objects ----------------------------------------------------------


def to_order(payload):
    order = as_dict(payload, "$", False)
    currency = (as_text(require(order, "currency", "$"), "$.currency") or "").upper()
    billing = address(order.get("billing_address"), "$.billing_address")
    shipping = address(order.get("shipping_address"), "$.shipping_address")
    total = order.get("total_price")
    return compact(
        {
            "external_id": as_id(require(order, "id", "$"), "$.id"),
            "name": as_text(order.get("name"), "$.name"),
            "created_at": as_timestamp(order.get("created_at"), "$.created_at"),
            # the order import flow ignores an update whose updated_at is not
            # newer than the version it applied last: this keeps a late or
            # replayed delivery from overwriting newer data
            "updated_at": as_timestamp(order.get("updated_at"), "$.updated_at"),
            "currency": currency,
            "taxes_included": bool(order.get("taxes_included")),
            "status": order_status(order),
            "note": as_text(order.get("note"), "$.note"),
            "total": number(as_decimal(total, "$.total_price"))
            if total is not None
            else None,
            "customer": customer(order, billing, shipping),
            "billing_address": billing,
            "shipping_address": shipping,
            "lines": order_lines(order),
            "shipping": shipping_lines(order),
        }
    )


def to_order_cancellation(payload):
    """The cancellation an ``orders/cancelled`` delivery carries: its Order
    resource, which Shopify gives a ``cancelled_at`` once cancelled. The
    topic header is not signed: an order without ``cancelled_at`` (a signed
    order body delivered again under that topic) is refused, whatever the
    header says."""
    order = as_dict(payload, "$", False)
    external_id = as_id(require(order, "id", "$"), "$.id")
    cancelled_at = as_timestamp(order.get("cancelled_at"), "$.cancelled_at")
    if not cancelled_at:
        raise RefusedEventError(
            f"Shopify order {external_id} was delivered as a cancellation but "
            "its signed body has no cancelled_at: the order is not cancelled, "
            "nothing was applied.",
            key=external_id,
            json_path="$.cancelled_at",
        )
    return compact(
        {
            "external_id": external_id,
            "cancelled_at": cancelled_at,
            "reason": as_text(order.get("cancel_reason"), "$.cancel_reason"),
        }
    )


def refund_amount(refund):
    """Money sent back: the successful refund transactions."""
    total = Decimal(0)
    currency = None
    transactions = as_list(refund.get("transactions"), "$.transactions")
    for index, transaction in enumerate(transactions):
        path = f"$.transactions[{index}]"
        transaction = as_dict(transaction, path, False)
        if transaction.get("kind") != "refund" or transaction.get("status") != (
            "success"
        ):
            continue
        total += as_decimal(require(transaction, "amount", path), f"{path}.amount")
        currency = as_text(transaction.get("currency"), f"{path}.currency") or currency
    return total, currency


def to_return(payload):
    refund = as_dict(payload, "$", False)
    lines = []
    items = as_list(refund.get("refund_line_items"), "$.refund_line_items")
    for index, item in enumerate(items):
        path = f"$.refund_line_items[{index}]"
        item = as_dict(item, path, False)
        quantity = as_decimal(require(item, "quantity", path), f"{path}.quantity")
        if quantity <= 0:
            continue
        line_item = as_dict(require(item, "line_item", path), f"{path}.line_item")
        restock_type = as_text(item.get("restock_type"), f"{path}.restock_type")
        lines.append(
            {
                "sku": line_sku(line_item, f"{path}.line_item"),
                "quantity": number(quantity),
                "restock": restock_type != NO_RESTOCK,
            }
        )
    if not lines:
        # a refund of money only (shipping, goodwill): no goods come back
        raise PermanentError(
            "Shopify refund without refunded line items: no goods come back, "
            "there is no return to register.",
            kind="invalid_payload",
            json_path="$.refund_line_items",
        )
    amount, currency = refund_amount(refund)
    return compact(
        {
            "external_id": as_id(require(refund, "id", "$"), "$.id"),
            "order_external_id": as_id(require(refund, "order_id", "$"), "$.order_id"),
            "created_at": as_timestamp(refund.get("created_at"), "$.created_at"),
            "reason": as_text(refund.get("note"), "$.note"),
            "refund_amount": number(amount) if amount > 0 else None,
            "currency": currency.upper() if currency else None,
            "lines": lines,
        }
    )


MAPPERS = {
    "order": to_order,
    "order_cancellation": to_order_cancellation,
    "return": to_return,
}
