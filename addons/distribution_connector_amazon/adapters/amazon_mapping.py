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

from .amazon_settlement import map_settlement_report

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


def _channel_data(order):
    """What Amazon says of the order that the canonical order has no field
    for, kept on the sales order by the backend's ``_prepare_order_vals``:
    who fulfills it (``AFN``: Amazon, from its own stock), Prime, Amazon
    Business, the marketplace and the shipping deadline."""
    return compact(
        {
            "fulfillment_channel": text(order.get("FulfillmentChannel")) or "MFN",
            "marketplace_id": text(order.get("MarketplaceId")),
            "is_prime": order.get("IsPrime") is True,
            "is_business_order": order.get("IsBusinessOrder") is True,
            "earliest_ship_date": text(order.get("EarliestShipDate")),
            "latest_ship_date": text(order.get("LatestShipDate")),
            "latest_delivery_date": text(order.get("LatestDeliveryDate")),
        }
    )


def _buyer_vat(tax_info):
    """The business buyer's VAT number (``BuyerTaxInfo.TaxClassifications``
    named ``VATNumber``), else None."""
    for entry in tax_info.get("TaxClassifications") or []:
        if isinstance(entry, dict) and text(entry.get("Name")).upper() in (
            "VATNUMBER",
            "VAT",
        ):
            return text(entry.get("Value")) or None
    return None


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
            "vat": _buyer_vat(tax_info)
            if order.get("IsBusinessOrder") is True
            else None,
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
            "total": (
                json_number(money(total, "$.Order.OrderTotal", currency))
                if isinstance(total, dict)
                else None
            ),
        }
    )
    canonical["customer"] = customer
    canonical["channel_data"] = _channel_data(order)
    canonical["lines"] = lines
    if shipping:
        canonical["shipping"] = shipping
    if address:
        canonical["shipping_address"] = address
        canonical["billing_address"] = address
    return canonical


def _whole(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def fba_on_hand(summary):
    """The units of an FBA inventory summary that are in Amazon's
    fulfillment centres: fulfillable, reserved (for customer orders Amazon
    has not shipped yet, transfers, processing), unfulfillable and being
    researched; inbound units on their way are not there yet."""
    details = summary.get("inventoryDetails")
    if not isinstance(details, dict):
        return _whole(summary.get("totalQuantity"))

    def nested(name, key):
        value = details.get(name)
        return _whole(value.get(key)) if isinstance(value, dict) else 0

    return (
        _whole(details.get("fulfillableQuantity"))
        + nested("reservedQuantity", "totalReservedQuantity")
        + nested("unfulfillableQuantity", "totalUnfulfillableQuantity")
        + nested("researchingQuantity", "totalResearchingQuantity")
    )


def map_fba_inventory(payload):
    """FBA inventory summaries (``getInventorySummaries``, as the backend's
    check stores them with the FBA warehouse's code) -> canonical stock
    snapshot (``schemas/stock_snapshot.json``) of that warehouse: every SKU
    Amazon holds, the ones it does not list counted as none."""
    if not isinstance(payload, dict) or not isinstance(
        payload.get("InventorySummaries"), list
    ):
        raise invalid_payload(
            "The payload has no InventorySummaries list.", "$.InventorySummaries"
        )
    read_at = text(payload.get("ReadAt")).replace(" ", "T")
    quantities = {}
    for index, summary in enumerate(payload["InventorySummaries"]):
        path = f"$.InventorySummaries[{index}]"
        if not isinstance(summary, dict):
            raise invalid_payload(f"{path} is not an object.", path)
        sku = text(summary.get("sellerSku"))
        if not sku:
            raise invalid_payload(f"{path} has no sellerSku.", f"{path}.sellerSku")
        # one summary per condition of a SKU: they add up
        quantities[sku] = quantities.get(sku, 0) + fba_on_hand(summary)
    return compact(
        {
            "external_id": f"fba:{text(payload.get('MarketplaceId'))}:{read_at}",
            "location": text(payload.get("WarehouseCode")),
            "counted_at": f"{read_at}Z" if read_at else None,
            "complete": True,
            "items": [
                {"sku": sku, "quantity": quantity}
                for sku, quantity in sorted(quantities.items())
            ],
        }
    )


#: canonical kind -> mapper of the pulled payload
MAPPERS = {
    "order": map_order,
    "stock_snapshot": map_fba_inventory,
    "settlement": map_settlement_report,
}
