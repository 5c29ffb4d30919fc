"""WooCommerce adapter (REST API v3, webhooks of API version 3).

What WooCommerce does, and what this adapter makes of it:

* **Signature**: ``X-WC-Webhook-Signature`` is the base64 of the HMAC-SHA256
  of the raw body keyed with the webhook's secret. WooCommerce decodes the
  HTML entities ``&amp; &lt; &gt; &quot; &#039;`` of the secret it stored
  before signing, so the decoded form of our secret is accepted as well.
* **Headers**: ``X-WC-Webhook-Source`` (the shop's URL), ``-Topic``
  (``order.created``...), ``-Resource``, ``-Event``, ``-ID`` (the webhook)
  and ``-Delivery-ID``: a hash of the webhook id and the current time, new
  at every delivery, so it does not identify the event.
* **Event id**: the resource id, its ``date_modified_gmt`` and a digest of the
  payload: a redelivery of the same version collapses into the first
  exchange, two different versions saved in the same second do not, and an
  order pulled by reconciliation has the id its webhook would have had.
* **Ping**: saving an active webhook posts ``webhook_id=<id>`` form-encoded,
  unsigned; it is answered 200 and stores nothing.
* **Failures**: WooCommerce does not retry a failed delivery and disables a
  webhook after more than five consecutive non-2xx answers, so a delivery
  of a core topic this adapter does not handle (``product.updated``,
  ``customer.created``, ``coupon.*``...) is kept as ignored and answered
  200; only a topic WooCommerce does not have is answered 404.
  Reconciliation pulls what was missed.
* **Meaning**: the topic header is not signed. Every order topic carries the
  order itself, and what it does comes from the signed body: its ``status``
  (``cancelled`` cancels) and its ``date_modified_gmt`` (a version not newer
  than the one applied changes nothing).
* **Refunds** have no webhook topic: ``order.updated`` fires on a refund and
  carries ``refunds`` with id, reason and total but no lines, so the order
  payload alone never makes a return (:func:`map_refund_returns` maps the
  refunds whose lines are known, e.g. fetched from ``orders/<id>/refunds``).
* **Stock**: ``products/batch`` and ``products/<parent>/variations/batch``,
  at most 100 objects a request, addressed by ``product:<id>`` or
  ``variation:<parent id>:<id>``, or for simple products by their SKU
  (``GET products?sku=``; that endpoint does not list variations).
  WooCommerce has no compare-and-set: the quantity is written as is, then
  read back from the batch answer.
"""

import base64
import hashlib
import html
import json
import math
import re
from collections import defaultdict
from datetime import timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from odoo.addons.distribution_connector.adapters.base import (
    DistributionAdapter,
    any_digest_matches,
    hmac_digest,
    register_adapter,
)
from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.http_client import BackendHttpClient

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
DELIVERY_HEADER = "x-wc-webhook-delivery-id"
API_PATH = "wp-json/wc/v3"
#: WooCommerce's default limit of objects per batch request
BATCH_LIMIT = 100
#: largest page of the collection endpoints
PAGE_SIZE = 100
#: a runaway pagination stops here (100 000 orders at 100 a page)
MAX_PAGES = 1000

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
#: core webhook topics: resource.event (the REST API's webhook reference,
#: and ``restored`` for the resources that can leave the trash)
CORE_TOPICS = frozenset(
    f"{resource}.{event}"
    for resource in ("coupon", "customer", "order", "product")
    for event in ("created", "updated", "deleted")
) | {"coupon.restored", "order.restored", "product.restored"}
#: order statuses that a shipment must not turn into "completed"
FINAL_STATUSES = ("completed", "cancelled", "refunded", "failed", "trash")

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
# the entities WordPress' wp_specialchars_decode(..., ENT_QUOTES) decodes
WP_ENTITIES_RE = re.compile(r"&(?:amp|lt|gt|quot|#0*39|#x0*27);", re.IGNORECASE)
WP_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"'}


def sign(secret, body):
    """The ``X-WC-Webhook-Signature`` WooCommerce sends for ``body``."""
    return base64.b64encode(hmac_digest(secret, body)).decode()


def wp_decode_entities(text):
    """``text`` with the entities WooCommerce decodes from a webhook secret
    before signing (one pass, like PHP's ``strtr``)."""
    return WP_ENTITIES_RE.sub(
        lambda match: WP_ENTITIES.get(match.group(0).lower(), "'"), text
    )


def resource_event_id(payload):
    """Event id of one version of a WooCommerce resource (see module doc)."""
    significant = {key: value for key, value in payload.items() if key != "_links"}
    digest = hashlib.sha256(
        json.dumps(
            significant, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    ).hexdigest()[:32]
    return f"{payload['id']}:{payload.get('date_modified_gmt') or '-'}:{digest}"


# -- payload -> canonical ------------------------------------------------------


def _invalid(message, json_path):
    return PermanentError(message, kind="invalid_payload", json_path=json_path)


def _decimal(value, json_path, default=None):
    """A WooCommerce amount (a string like "12.00", or a number) as Decimal."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _invalid(f"{json_path}: {value!r} is not a number.", json_path)
    try:
        number = Decimal(str(value))
    except InvalidOperation as err:
        raise _invalid(f"{json_path}: {value!r} is not a number.", json_path) from err
    if not number.is_finite():
        raise _invalid(f"{json_path}: {value!r} is not a number.", json_path)
    return number


def _number(value):
    """Decimal -> JSON number (an int when whole)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _text(value):
    """A WooCommerce text, HTML entities decoded (names carry ``&ndash;``,
    tax labels ``&#37;``), stripped; '' for anything else."""
    return html.unescape(value).strip() if isinstance(value, str) else ""


def _gmt(value):
    """``date_*_gmt`` ("2017-03-22T19:28:02") -> RFC 3339 with "Z"."""
    value = _text(value)
    if not value:
        return None
    return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


def _compact(values):
    return {key: value for key, value in values.items() if value not in (None, "")}


def _full_name(data):
    return " ".join(
        part for part in (_text(data.get("first_name")), _text(data.get("last_name")))
        if part
    )  # fmt: skip


def _address(data, with_email=True):
    """A WooCommerce billing/shipping object -> canonical address, or None
    when it holds no address (virtual goods have no shipping address)."""
    if not isinstance(data, dict):
        return None
    country = _text(data.get("country")).upper()
    email = _text(data.get("email")) if with_email else ""
    address = _compact(
        {
            "name": _full_name(data),
            "company_name": _text(data.get("company")),
            "street": _text(data.get("address_1")),
            "street2": _text(data.get("address_2")),
            "city": _text(data.get("city")),
            "zip": _text(data.get("postcode")),
            "state_code": _text(data.get("state")),
            "country_code": country if COUNTRY_RE.match(country) else None,
            "phone": _text(data.get("phone")),
            "email": email if EMAIL_RE.match(email) else None,
        }
    )
    located = ("street", "street2", "city", "zip", "country_code")
    return address if any(key in address for key in located) else None


def line_sku(item):
    """The line's SKU; without one, ``variation:<id>`` or ``product:<id>``
    (map those to Odoo products with SKU mappings)."""
    sku = _text(item.get("sku"))
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
        raise _invalid("$.tax_lines is not a list.", "$.tax_lines")
    for index, tax_line in enumerate(tax_lines):
        path = f"$.tax_lines[{index}]"
        if not isinstance(tax_line, dict) or tax_line.get("rate_id") in (None, ""):
            raise _invalid(f"{path} has no rate_id.", path)
        rate = _decimal(tax_line.get("rate_percent"), f"{path}.rate_percent")
        if rate is None:
            rate = _derived_rate(payload, tax_line, path)
        rates[str(tax_line["rate_id"])] = (
            _compact({"name": _text(tax_line.get("label")) or None, "rate": rate}),
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
        total = sum((_decimal(value, path) for value in values), Decimal(0))
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
        raise _invalid(f"{json_path} is not a list.", json_path)
    for index, entry in enumerate(entries):
        path = f"{json_path}[{index}]"
        if not isinstance(entry, dict):
            raise _invalid(f"{path} is not an object.", path)
        if entry.get("total") in (None, "") and entry.get("subtotal") in (None, ""):
            continue  # the rate does not apply to this item
        rate_id = str(entry.get("id"))
        if rate_id not in rates:
            raise _invalid(
                f"{path}: tax rate {rate_id} is not among the order's tax_lines.", path
            )
        tax, tax_path = rates[rate_id]
        if tax.get("rate") is None:
            raise _invalid(
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
        raise _invalid("$.line_items is not a list.", "$.line_items")
    for index, item in enumerate(items):
        path = f"$.line_items[{index}]"
        if not isinstance(item, dict):
            raise _invalid(f"{path} is not an object.", path)
        quantity = _decimal(item.get("quantity"), f"{path}.quantity", Decimal(0))
        if quantity <= 0:
            continue
        sku = line_sku(item)
        if not sku:
            raise _invalid(f"{path} has neither SKU nor product id.", path)
        subtotal = _decimal(item.get("subtotal"), f"{path}.subtotal")
        total = _decimal(item.get("total"), f"{path}.total", subtotal)
        if subtotal is None:
            subtotal = total if total is not None else Decimal(0)
            total = subtotal
        line = {
            "external_id": str(item["id"]) if item.get("id") is not None else None,
            "sku": sku,
            "name": _text(item.get("name")) or None,
            "quantity": _number(quantity),
            # subtotal is before discounts, total after: the difference is
            # the discount (coupons) on the whole line
            "unit_price": float(subtotal / quantity),
            "discount_amount": float(subtotal - total) if subtotal > total else None,
            "taxes": _line_taxes(item, rates, f"{path}.taxes"),
        }
        lines.append(_compact(line) | {"taxes": line["taxes"]})
    return lines


def _shipping_lines(payload, rates):
    shipping = []
    items = payload.get("shipping_lines") or []
    if not isinstance(items, list):
        raise _invalid("$.shipping_lines is not a list.", "$.shipping_lines")
    for index, item in enumerate(items):
        path = f"$.shipping_lines[{index}]"
        if not isinstance(item, dict):
            raise _invalid(f"{path} is not an object.", path)
        price = _decimal(item.get("total"), f"{path}.total", Decimal(0))
        shipping.append(
            _compact(
                {
                    "code": _text(item.get("method_id")),
                    "name": _text(item.get("method_title")),
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
    email = _text(raw_billing.get("email"))
    name = (
        (billing or {}).get("name")
        or (shipping or {}).get("name")
        or (billing or {}).get("company_name")
        or email
        or "WooCommerce guest"
    )
    customer_id = payload.get("customer_id")
    return _compact(
        {
            # 0 is a guest: no account to bind
            "external_id": str(customer_id) if customer_id else None,
            "name": name,
            "email": email if EMAIL_RE.match(email) else None,
            "phone": _text(raw_billing.get("phone")),
            "company_name": _text(raw_billing.get("company")),
        }
    )


def _check_order(payload):
    if not isinstance(payload, dict):
        raise _invalid("The order is not a JSON object.", "$")
    if payload.get("id") in (None, "") or isinstance(payload.get("id"), bool):
        raise _invalid("The order has no id.", "$.id")


def map_order(payload):
    """A WooCommerce v3 order -> the canonical order (``schemas/order.json``).

    Fee lines have no canonical counterpart: an order with fees is imported
    without them and the order import flags its different total.
    """
    _check_order(payload)
    rates = _tax_rates(payload)
    billing = _address(payload.get("billing"))
    shipping = _address(payload.get("shipping"), with_email=False)
    status = _text(payload.get("status"))
    order = _compact(
        {
            "external_id": str(payload["id"]),
            "name": _text(str(payload.get("number") or "")),
            "created_at": _gmt(payload.get("date_created_gmt")),
            "updated_at": _gmt(payload.get("date_modified_gmt")),
            "currency": _text(payload.get("currency")).upper(),
            "taxes_included": bool(payload.get("prices_include_tax")),
            "status": ORDER_STATUSES.get(status, "open"),
            "note": _text(payload.get("customer_note")),
            "billing_address": billing,
            "shipping_address": shipping,
        }
    )
    total = _decimal(payload.get("total"), "$.total")
    if total is not None:
        order["total"] = float(total)
    order["customer"] = _customer(payload, billing, shipping)
    order["lines"] = _order_lines(payload, rates)
    order["shipping"] = _shipping_lines(payload, rates)
    return order


def map_cancellation(payload):
    """A cancelled WooCommerce order -> ``schemas/order_cancellation.json``."""
    _check_order(payload)
    return _compact(
        {
            "external_id": str(payload["id"]),
            "cancelled_at": _gmt(payload.get("date_modified_gmt")),
            "reason": f"Order status {_text(payload.get('status'))} in WooCommerce.",
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
            raise _invalid(f"{path} has no id.", path)
        lines = []
        for line_index, item in enumerate(refund.get("line_items") or []):
            line_path = f"{path}.line_items[{line_index}]"
            quantity = abs(_decimal(item.get("quantity"), line_path, Decimal(0)))
            if quantity and line_sku(item):
                lines.append({"sku": line_sku(item), "quantity": _number(quantity)})
        if not lines:
            continue
        amount = _decimal(refund.get("total", refund.get("amount")), f"{path}.total")
        returns.append(
            _compact(
                {
                    "external_id": str(refund["id"]),
                    "order_external_id": str(payload["id"]),
                    "created_at": _gmt(refund.get("date_created_gmt")),
                    "reason": _text(refund.get("reason")),
                    "refund_amount": float(abs(amount)) if amount is not None else None,
                    "currency": _text(payload.get("currency")).upper() or None,
                }
            )
            | {"lines": lines}
        )
    return returns


# -- canonical -> WooCommerce -------------------------------------------------------


def parse_product_ref(external_ref):
    """``product:<id>`` -> (None, id); ``variation:<parent>:<id>`` ->
    (parent, id); anything else -> None."""
    parts = (external_ref or "").split(":")
    if len(parts) == 2 and parts[0] == "product" and parts[1].isdigit():
        return None, int(parts[1])
    if (
        len(parts) == 3
        and parts[0] == "variation"
        and parts[1].isdigit()
        and parts[2].isdigit()
    ):
        return int(parts[1]), int(parts[2])
    return None


def stock_amount(quantity):
    """WooCommerce stores whole quantities: round down, never publish more
    than allowed. None when ``quantity`` is not a number."""
    if isinstance(quantity, bool) or not isinstance(quantity, (int, float, Decimal)):
        return None
    if not math.isfinite(quantity):
        return None
    return int(Decimal(str(quantity)).to_integral_value(rounding=ROUND_FLOOR))


def tracking_note(shipment):
    """The customer note telling the tracking of a shipment."""
    carrier = shipment.get("carrier")
    number = shipment.get("tracking_number")
    url = shipment.get("tracking_url")
    text = "Your order has shipped"
    text += f" with {carrier}." if carrier else "."
    if number:
        text += f" Tracking number: {number}."
    if url:
        text += f" Track it at {url}"
    return text


def _chunks(entries, size):
    for start in range(0, len(entries), size):
        yield entries[start : start + size]


class WooCommerceHttpClient(BackendHttpClient):
    """The shared client, authenticated with the REST API consumer key and
    secret (HTTP Basic, over https)."""

    def auth_headers(self):
        key = self.backend._get_secret("api_key")
        secret = self.backend._get_secret("api_secret")
        if not key or not secret:
            raise PermanentError(
                f"Backend {self.backend.name} needs the WooCommerce consumer key "
                "(API key) and consumer secret (API secret).",
                kind="configuration",
            )
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@register_adapter
class WooCommerceAdapter(DistributionAdapter):
    code = "woocommerce"
    label = "WooCommerce"
    topics = {
        "order.created": "order",
        "order.updated": "order",
        "order.restored": "order",
    }
    ignored_topics = CORE_TOPICS - set(topics)
    kept_headers = (
        "x-wc-webhook-source",
        "x-wc-webhook-topic",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-id",
        DELIVERY_HEADER,
    )
    max_batch_size = BATCH_LIMIT
    http_client_class = WooCommerceHttpClient

    # -- inbound webhooks ---------------------------------------------------

    def _signing_keys(self):
        for secret in self.backend._webhook_secrets():
            yield secret
            decoded = wp_decode_entities(secret)
            if decoded != secret:
                yield decoded

    def verify_signature(self, headers, body):
        given = (headers.get(SIGNATURE_HEADER) or "").strip()
        expected = [sign(secret, body) for secret in self._signing_keys()]
        return any_digest_matches(expected, given)

    def is_ping(self, headers, content_type, params):
        webhook_id = params.get("webhook_id")
        return (
            content_type == "application/x-www-form-urlencoded"
            and set(params) == {"webhook_id"}
            and isinstance(webhook_id, str)
            and webhook_id.isdigit()
        )

    def resolve_topic(self, url_topic, headers):
        return (headers.get(TOPIC_HEADER) or "").strip() or url_topic

    def payload_kind(self, topic, payload):
        """The canonical object of one delivery: a cancelled order's update
        is a cancellation. Not called by the webhook route, which picks the
        kind per topic (``canonical_kind``): there a cancelled order arrives
        as an order whose status is ``cancelled``, for the order import to
        cancel."""
        kind = self.canonical_kind(topic)
        if (
            kind == "order"
            and topic == "order.updated"
            and isinstance(payload, dict)
            and payload.get("status") == "cancelled"
        ):
            return "order_cancellation"
        return kind

    def event_id(self, topic, headers, payload, body):
        if isinstance(payload, dict) and payload.get("id") not in (None, ""):
            return resource_event_id(payload)
        return super().event_id(topic, headers, payload, body)

    def external_reference(self, topic, payload):
        if isinstance(payload, dict) and payload.get("id") not in (None, ""):
            return str(payload["id"])
        return None

    def to_canonical(self, kind, payload):
        if kind == "order":
            return map_order(payload)
        if kind == "order_cancellation":
            return map_cancellation(payload)
        raise PermanentError(
            f"The WooCommerce adapter does not make {kind!r} objects.",
            kind="unsupported_topic",
            key=kind,
        )

    # -- outbound -------------------------------------------------------------

    def _endpoint(self, path):
        """``path`` under the REST API root, whether the backend's base URL is
        the shop's root or already ends with ``/wp-json/wc/v3``."""
        base = (self.backend.api_base_url or "").rstrip("/")
        return path if base.endswith("/" + API_PATH) else f"{API_PATH}/{path}"

    #: no compare-and-set: the number sent is the engine's, which deducts
    #: the channel orders received and not applied yet
    stock_update_mode = "absolute"

    def export_stock(self, items):
        """``stock_quantity`` (with ``manage_stock``) through the batch
        endpoints, ``max_batch_size`` objects a request; simple products by
        ``products/batch``, variations by their parent's variations batch.

        An item names its WooCommerce object by ``external_ref``
        (``product:<id>`` or ``variation:<parent id>:<id>``); without one,
        products are looked up by SKU (``GET products?sku=...``).

        ``compare_quantity`` is not sent: WooCommerce has no compare-and-set.
        Each item is confirmed by the quantity the batch answer reports:
        ``ok`` when it is the one sent, ``mismatch`` otherwise, ``error``
        with WooCommerce's message for an object it refused.
        """
        results = [None] * len(items)
        refs = [parse_product_ref(item.get("external_ref")) for item in items]
        client = self.http_client()
        by_sku = self._products_by_sku(
            client,
            [
                item.get("sku")
                for item, ref in zip(items, refs, strict=True)
                if ref is None and not item.get("external_ref")
            ],
        )
        products = []
        variations = defaultdict(list)
        for index, item in enumerate(items):
            ref = refs[index]
            if ref is None and not item.get("external_ref"):
                ref = by_sku.get(item.get("sku"))
            if ref is None:
                results[index] = self._stock_result(
                    item, "error", None, self._no_product_message(item)
                )
                continue
            quantity = stock_amount(item.get("quantity"))
            if quantity is None:
                results[index] = self._stock_result(
                    item, "error", None, f"{item.get('quantity')!r} is not a quantity."
                )
                continue
            parent, object_id = ref
            entry = (index, object_id, quantity)
            if parent is None:
                products.append(entry)
            else:
                variations[parent].append(entry)
        for chunk in _chunks(products, self.max_batch_size):
            self._batch_stock(client, "products/batch", chunk, items, results)
        for parent, entries in variations.items():
            for chunk in _chunks(entries, self.max_batch_size):
                path = f"products/{parent}/variations/batch"
                self._batch_stock(client, path, chunk, items, results)
        return results

    def read_stock(self, items):
        """The shop's ``stock_quantity`` of the items' products and
        variations, listed by id (``include``), ``PAGE_SIZE`` a request;
        the objects are named as :meth:`export_stock` names them. An object
        the shop does not list, or whose stock it does not manage, has no
        quantity (None)."""
        refs = [parse_product_ref(item.get("external_ref")) for item in items]
        client = self.http_client()
        by_sku = self._products_by_sku(
            client,
            [
                item.get("sku")
                for item, ref in zip(items, refs, strict=True)
                if ref is None and not item.get("external_ref")
            ],
        )
        wanted = defaultdict(set)
        for index, item in enumerate(items):
            if refs[index] is None and not item.get("external_ref"):
                refs[index] = by_sku.get(item.get("sku"))
            if refs[index] is not None:
                parent, object_id = refs[index]
                wanted[parent].add(object_id)
        found = {}
        for parent, ids in wanted.items():
            path = "products" if parent is None else f"products/{parent}/variations"
            for chunk in _chunks(sorted(ids), PAGE_SIZE):
                listed = client.json(
                    "GET",
                    self._endpoint(path),
                    topic="stock_check",
                    params={
                        "include": ",".join(str(i) for i in chunk),
                        "per_page": PAGE_SIZE,
                    },
                )
                if not isinstance(listed, list):
                    raise PermanentError(
                        f"WooCommerce answered GET {path} without a list.",
                        kind="invalid_response",
                    )
                for entry in listed:
                    if not isinstance(entry, dict):
                        continue
                    try:
                        object_id = int(entry.get("id"))
                    except (TypeError, ValueError):
                        continue
                    quantity = entry.get("stock_quantity")
                    managed = entry.get("manage_stock") not in (False, None)
                    found[(parent, object_id)] = (
                        quantity
                        if managed
                        and isinstance(quantity, int | float)
                        and not isinstance(quantity, bool)
                        else None
                    )
        return [
            {"sku": item.get("sku"), "quantity": found.get(ref) if ref else None}
            for item, ref in zip(items, refs, strict=True)
        ]

    def _products_by_sku(self, client, skus):
        """SKU -> (None, product id) of the products the shop lists with
        these SKUs. The products endpoint does not list variations: those
        need their ``variation:<parent id>:<id>`` reference."""
        wanted = sorted({sku for sku in skus if sku and "," not in sku})
        found = {}
        for chunk in _chunks(wanted, PAGE_SIZE):
            listed = client.json(
                "GET",
                self._endpoint("products"),
                topic="stock",
                params={"sku": ",".join(chunk), "per_page": PAGE_SIZE},
            )
            if not isinstance(listed, list):
                raise PermanentError(
                    "WooCommerce answered GET products without a list.",
                    kind="permanent",
                )
            for product in listed:
                if not isinstance(product, dict) or product.get("sku") not in chunk:
                    continue
                try:
                    found[product["sku"]] = (None, int(product.get("id")))
                except (TypeError, ValueError):
                    continue
        return found

    @staticmethod
    def _no_product_message(item):
        if item.get("external_ref"):
            return (
                f"{item['external_ref']!r} is not a WooCommerce reference: use "
                "product:<id> or variation:<parent id>:<id>."
            )
        return (
            f"No WooCommerce product has SKU {item.get('sku')}: a variation "
            "needs the external reference variation:<parent id>:<id>."
        )

    @staticmethod
    def _stock_result(item, status, actual, message=""):
        return {
            "sku": item.get("sku"),
            "status": status,
            "actual_quantity": actual,
            "message": message,
        }

    def _batch_stock(self, client, path, chunk, items, results):
        body = {
            "update": [
                {"id": object_id, "manage_stock": True, "stock_quantity": quantity}
                for _index, object_id, quantity in chunk
            ]
        }
        answer = client.json("POST", self._endpoint(path), topic="stock", json=body)
        updated = answer.get("update") if isinstance(answer, dict) else None
        if not isinstance(updated, list) or not all(
            isinstance(entry, dict) for entry in updated
        ):
            raise PermanentError(
                f"WooCommerce answered POST {path} without an update list.",
                kind="permanent",
            )
        by_id = {}
        for entry in updated:
            try:
                by_id[int(entry.get("id"))] = entry
            except (TypeError, ValueError):
                continue  # an error entry of an object it could not read
        for index, object_id, quantity in chunk:
            item = items[index]
            entry = by_id.get(object_id)
            if entry is None:
                raise PermanentError(
                    f"WooCommerce answered POST {path} without object {object_id}.",
                    kind="permanent",
                )
            results[index] = self._stock_entry_result(item, entry, quantity)

    def _stock_entry_result(self, item, entry, quantity):
        error = entry.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            text = _text(message) or str(error)
            return self._stock_result(
                item, "error", None, f"{text} ({code})" if code else text
            )
        actual = entry.get("stock_quantity")
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return self._stock_result(
                item,
                "error",
                None,
                "WooCommerce answered without a stock quantity: is stock "
                "management on for this product?",
            )
        if math.isclose(actual, quantity):
            return self._stock_result(item, "ok", actual)
        return self._stock_result(
            item,
            "mismatch",
            actual,
            f"WooCommerce holds {actual} where {quantity} was sent.",
        )

    def export_fulfillment(self, shipment):
        """A customer note with the tracking (WooCommerce emails it to the
        customer), and the order ``completed`` once all of it shipped.

        Safe to repeat: a note with the same text is not added twice and the
        status is set only when it is not final yet. The order is complete
        when ``shipment["complete"]`` says so or, without it, when this
        shipment covers every line of the WooCommerce order.
        """
        order_id = str(shipment.get("order_external_id") or "")
        if not order_id.isdigit():
            raise PermanentError(
                f"{order_id!r} is not a WooCommerce order id.",
                kind="invalid_payload",
                key=order_id,
            )
        client = self.http_client()
        order_path = self._endpoint(f"orders/{order_id}")
        order = client.json("GET", order_path, topic="fulfillment")
        if not isinstance(order, dict) or not isinstance(order.get("line_items"), list):
            raise PermanentError(
                f"WooCommerce answered GET orders/{order_id} without an order.",
                kind="permanent",
            )
        note_id = self._tracking_note(client, order_id, shipment)
        complete = shipment.get("complete")
        if complete is None:
            complete = self._covers_order(order, shipment)
        if complete and order.get("status") not in FINAL_STATUSES:
            answer = client.json(
                "PUT", order_path, topic="fulfillment", json={"status": "completed"}
            )
            if not isinstance(answer, dict) or answer.get("status") != "completed":
                raise PermanentError(
                    f"WooCommerce did not complete order {order_id}.",
                    kind="permanent",
                )
        return {"external_id": note_id}

    def _tracking_note(self, client, order_id, shipment):
        if not (shipment.get("tracking_number") or shipment.get("tracking_url")):
            return None
        text = tracking_note(shipment)
        notes_path = self._endpoint(f"orders/{order_id}/notes")
        notes = client.json(
            "GET", notes_path, topic="fulfillment", params={"type": "customer"}
        )
        if not isinstance(notes, list):
            raise PermanentError(
                f"WooCommerce answered GET orders/{order_id}/notes without a list.",
                kind="permanent",
            )
        for note in notes:
            if isinstance(note, dict) and _text(note.get("note")) == text:
                return str(note.get("id"))  # sent before: the customer has it
        note = client.json(
            "POST",
            notes_path,
            topic="fulfillment",
            json={"note": text, "customer_note": True},
        )
        if not isinstance(note, dict) or note.get("id") is None:
            raise PermanentError(
                f"WooCommerce answered POST orders/{order_id}/notes without a note.",
                kind="permanent",
            )
        return str(note["id"])

    @staticmethod
    def _covers_order(order, shipment):
        shipped_by_line = defaultdict(Decimal)
        shipped_by_sku = defaultdict(Decimal)
        for line in shipment.get("lines") or []:
            quantity = Decimal(str(line.get("quantity") or 0))
            if line.get("line_external_id"):
                shipped_by_line[str(line["line_external_id"])] += quantity
            else:
                shipped_by_sku[line.get("sku")] += quantity
        for item in order["line_items"]:
            if not isinstance(item, dict):
                return False
            ordered = _decimal(item.get("quantity"), "quantity", Decimal(0))
            if ordered <= 0:
                continue
            line_id, sku = str(item.get("id")), line_sku(item)
            shipped = shipped_by_line.get(line_id, Decimal(0))
            if shipped < ordered and sku in shipped_by_sku:
                taken = min(ordered - shipped, shipped_by_sku[sku])
                shipped += taken
                shipped_by_sku[sku] -= taken
            if shipped < ordered:
                return False
        return True

    def pull_orders(self, updated_since):
        """Orders modified since ``updated_since`` (UTC), 100 a page, oldest
        id first so that orders created meanwhile do not shift the pages,
        following ``X-WP-TotalPages``."""
        client = self.http_client()
        params = {
            "per_page": PAGE_SIZE,
            "orderby": "id",
            "order": "asc",
            "dates_are_gmt": "true",
        }
        if updated_since:
            if updated_since.tzinfo:
                updated_since = updated_since.astimezone(timezone.utc).replace(
                    tzinfo=None
                )
            params["modified_after"] = updated_since.replace(microsecond=0).isoformat()
        path = self._endpoint("orders")
        page = total_pages = 1
        while page <= total_pages:
            response = client.request(
                "GET", path, topic="reconcile", params={**params, "page": page}
            )
            try:
                orders = response.json()
            except ValueError as err:
                raise PermanentError(
                    f"WooCommerce answered GET orders page {page} with something "
                    "that is not JSON.",
                    kind="permanent",
                ) from err
            if not isinstance(orders, list) or not all(
                isinstance(order, dict) and order.get("id") not in (None, "")
                for order in orders
            ):
                raise PermanentError(
                    f"WooCommerce answered GET orders page {page} without a list "
                    "of orders.",
                    kind="permanent",
                )
            total_pages = self._total_pages(response, page, len(orders))
            for order in orders:
                yield {
                    "topic": "order.updated",
                    "event_id": resource_event_id(order),
                    "external_ref": str(order["id"]),
                    "payload": order,
                }
            page += 1

    @staticmethod
    def _total_pages(response, page, count):
        header = response.headers.get("X-WP-TotalPages")
        if header is None:
            # no header (a proxy dropped it): a full page may have a next one
            return page + 1 if count >= PAGE_SIZE else page
        if not header.strip().isdigit():
            raise PermanentError(
                f"WooCommerce answered X-WP-TotalPages: {header!r}.",
                kind="permanent",
            )
        total = int(header)
        if total > MAX_PAGES:
            raise PermanentError(
                f"WooCommerce announces {total} pages of orders: pull from a "
                "later date.",
                kind="permanent",
            )
        return total
