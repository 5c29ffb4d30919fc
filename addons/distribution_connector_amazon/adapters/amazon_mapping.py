"""Selling Partner API (Orders API v0) payloads -> canonical objects.

An Amazon order comes in pieces: ``getOrders`` gives the ``Order`` (status,
dates, flags, total), ``getOrderItems`` its ``OrderItem`` list (SKU,
quantities, prices, taxes, promotions, shipping, gift wrap) and
``getOrderAddress``, called with a restricted data token, its
``ShippingAddress``. The adapter pulls them together into one payload
``{"Order": {...}, "OrderItems": [...], "ShippingAddress": {...} | None}``,
which is what an exchange stores and what :func:`map_order` reads.

Amounts are ``Money`` objects (``{"CurrencyCode", "Amount"}``, the amount a
decimal string); ``ItemPrice`` and the other item amounts are for the
whole quantity, not per unit. A payload that does not have the documented
shape raises a ``PermanentError`` of kind ``invalid_payload`` naming the
JSON path.
"""

from decimal import Decimal

from odoo.addons.distribution_connector.adapters.tools import (
    compact,
    country_or_none,
    email_or_none,
    invalid_payload,
    json_number,
    parse_decimal,
)

#: Amazon order status -> canonical status; statuses missing here are not
#: imported (see ``HELD_STATUSES``)
ORDER_STATUSES = {
    "Unshipped": "paid",
    "PartiallyShipped": "paid",
    "Shipped": "paid",
    "InvoiceUnconfirmed": "paid",
    "Canceled": "cancelled",
    "Unfulfillable": "cancelled",
}
#: the buyer's payment is not authorised yet: Amazon may still cancel the
#: order, it has no prices on its items and no address, and the seller must
#: not ship it. Such an order is held back: not imported (no sales order,
#: nothing reserved) until a later version leaves this status.
HELD_STATUSES = frozenset({"Pending", "PendingAvailability"})


def text(value):
    return value.strip() if isinstance(value, str) else ""


def money(value, json_path, currency=None):
    """A ``Money`` object's amount as Decimal (0 when absent); its currency
    must be the order's."""
    if value in (None, {}):
        return Decimal(0)
    if not isinstance(value, dict):
        raise invalid_payload(f"{json_path} is not a Money object.", json_path)
    code = value.get("CurrencyCode")
    if currency and code and code != currency:
        raise invalid_payload(
            f"{json_path} is in {code}, the order in {currency}.", json_path
        )
    try:
        return parse_decimal(value.get("Amount") or "0")
    except (TypeError, ValueError) as err:
        raise invalid_payload(
            f"{json_path}.Amount: {value.get('Amount')!r} is not a number.",
            f"{json_path}.Amount",
        ) from err


def order_currency(order, items):
    """The order's currency: its total's, else its first priced item's."""
    total = order.get("OrderTotal")
    if isinstance(total, dict) and total.get("CurrencyCode"):
        return total["CurrencyCode"]
    for item in items:
        price = item.get("ItemPrice") if isinstance(item, dict) else None
        if isinstance(price, dict) and price.get("CurrencyCode"):
            return price["CurrencyCode"]
    return None


def tax_rate(tax, base):
    """The percentage ``tax`` is of ``base``, to two decimals (Amazon gives
    tax amounts, not rates); no tax when either is zero."""
    if not tax or base <= 0:
        return []
    return [{"rate": float((tax * 100 / base).quantize(Decimal("0.01")))}]


def _address(data):
    """A ``getOrderAddress`` ``ShippingAddress`` -> canonical address."""
    if not isinstance(data, dict):
        return None
    street = ", ".join(
        part
        for part in (text(data.get("AddressLine1")), text(data.get("AddressLine2")))
        if part
    )
    address = compact(
        {
            "name": text(data.get("Name")),
            "company_name": text(data.get("CompanyName")),
            "street": street,
            "street2": text(data.get("AddressLine3")),
            "city": text(data.get("City")),
            "zip": text(data.get("PostalCode")),
            "state_code": text(data.get("StateOrRegion")),
            "country_code": country_or_none(text(data.get("CountryCode")).upper()),
            "phone": text(data.get("Phone")),
        }
    )
    return address or None


def _lines(items, currency):
    lines, shipping = [], []
    for index, item in enumerate(items):
        path = f"$.OrderItems[{index}]"
        if not isinstance(item, dict):
            raise invalid_payload(f"{path} is not an object.", path)
        quantity = item.get("QuantityOrdered")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise invalid_payload(
                f"{path}.QuantityOrdered is not a whole number.",
                f"{path}.QuantityOrdered",
            )
        if quantity <= 0:
            continue  # an item cancelled before shipping
        sku = text(item.get("SellerSKU"))
        if not sku:
            raise invalid_payload(f"{path} has no SellerSKU.", f"{path}.SellerSKU")
        price = money(item.get("ItemPrice"), f"{path}.ItemPrice", currency)
        tax = money(item.get("ItemTax"), f"{path}.ItemTax", currency)
        discount = money(
            item.get("PromotionDiscount"), f"{path}.PromotionDiscount", currency
        )
        lines.append(
            compact(
                {
                    "external_id": text(item.get("OrderItemId")),
                    "sku": sku,
                    "name": text(item.get("Title")),
                    "quantity": quantity,
                    "unit_price": json_number(price / quantity),
                    "discount_amount": json_number(discount) if discount else None,
                }
            )
            | {"taxes": tax_rate(tax, price)}
        )
        ship = money(item.get("ShippingPrice"), f"{path}.ShippingPrice", currency)
        ship -= money(
            item.get("ShippingDiscount"), f"{path}.ShippingDiscount", currency
        )
        ship_tax = money(item.get("ShippingTax"), f"{path}.ShippingTax", currency)
        if ship > 0:
            shipping.append(
                {
                    "code": "Shipping",
                    "name": f"Shipping {sku}",
                    "price": json_number(ship),
                    "taxes": tax_rate(ship_tax, ship),
                }
            )
        wrap_info = (
            item.get("BuyerInfo") if isinstance(item.get("BuyerInfo"), dict) else {}
        )
        wrap = money(
            wrap_info.get("GiftWrapPrice"), f"{path}.BuyerInfo.GiftWrapPrice", currency
        )
        if wrap > 0:
            wrap_tax = money(
                wrap_info.get("GiftWrapTax"), f"{path}.BuyerInfo.GiftWrapTax", currency
            )
            shipping.append(
                {
                    "code": "GiftWrap",
                    "name": f"Gift wrap {sku}",
                    "price": json_number(wrap),
                    "taxes": tax_rate(wrap_tax, wrap),
                }
            )
    return lines, shipping


def _note(order):
    """What Amazon says of the order that Odoo's order has no field for."""
    parts = []
    if order.get("IsPrime") is True:
        parts.append("Amazon Prime order.")
    if order.get("IsBusinessOrder") is True:
        parts.append("Amazon Business order.")
    if text(order.get("LatestShipDate")):
        parts.append(f"Ship by {text(order['LatestShipDate'])}.")
    return " ".join(parts)


def map_order(payload):
    """The pulled order pieces -> canonical order (``schemas/order.json``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("Order"), dict):
        raise invalid_payload("The payload has no Order object.", "$.Order")
    order = payload["Order"]
    order_id = text(order.get("AmazonOrderId"))
    if not order_id:
        raise invalid_payload(
            "The order has no AmazonOrderId.", "$.Order.AmazonOrderId"
        )
    status = order.get("OrderStatus")
    if status not in ORDER_STATUSES:
        raise invalid_payload(
            f"Order {order_id} has status {status!r}, which is not imported.",
            "$.Order.OrderStatus",
        )
    items = payload.get("OrderItems")
    if not isinstance(items, list):
        raise invalid_payload("$.OrderItems is not a list.", "$.OrderItems")
    currency = order_currency(order, items)
    if not currency:
        raise invalid_payload(
            f"Order {order_id} has no currency.", "$.Order.OrderTotal.CurrencyCode"
        )
    lines, shipping = _lines(items, currency)
    if not lines:
        raise invalid_payload(f"Order {order_id} has no item left.", "$.OrderItems")
    address = _address(payload.get("ShippingAddress"))
    buyer = order.get("BuyerInfo") if isinstance(order.get("BuyerInfo"), dict) else {}
    tax_info = (
        buyer.get("BuyerTaxInfo") if isinstance(buyer.get("BuyerTaxInfo"), dict) else {}
    )
    company = text(tax_info.get("CompanyLegalName")) or (address or {}).get(
        "company_name", ""
    )
    customer = compact(
        {
            "name": text(buyer.get("BuyerName"))
            or (address or {}).get("name")
            or company
            or f"Amazon buyer {order_id}",
            "email": email_or_none(text(buyer.get("BuyerEmail"))),
            "company_name": company if order.get("IsBusinessOrder") is True else "",
        }
    )
    total = order.get("OrderTotal")
    canonical = compact(
        {
            "external_id": order_id,
            "name": order_id,
            "created_at": text(order.get("PurchaseDate")),
            "updated_at": text(order.get("LastUpdateDate")),
            "currency": currency,
            "status": ORDER_STATUSES[status],
            "note": _note(order),
            "total": (
                json_number(money(total, "$.Order.OrderTotal", currency))
                if isinstance(total, dict)
                else None
            ),
        }
    )
    canonical["customer"] = customer
    canonical["lines"] = lines
    if shipping:
        canonical["shipping"] = shipping
    if address:
        canonical["shipping_address"] = address
        canonical["billing_address"] = address
    return canonical


#: canonical kind -> mapper of the pulled payload
MAPPERS = {"order": map_order}
