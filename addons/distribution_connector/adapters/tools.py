"""What every adapter needs, written once: signatures, payload readers,
decimals, chunking and the result records of the adapter's methods.

Adapters import these rather than keeping their own copy, so that a fix to
how, say, a decimal amount is read reaches every channel.
"""

import base64
import math
import re
from datetime import timezone
from decimal import Decimal, InvalidOperation

from ..errors import PermanentError
from .base import hmac_digest

#: an e-mail address worth keeping on a partner (anything else is dropped)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
#: an ISO 3166-1 alpha-2 country code
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
#: pages one pull follows at the most: a sender whose pages never end (or
#: loop on a cursor) is refused rather than followed forever
MAX_PAGES = 1000
#: what an outbound stock answer may say about one item
STOCK_STATUSES = ("ok", "mismatch", "error")


# -- signatures -------------------------------------------------------------------


def base64_signature(secret, body):
    """Base64 of the HMAC-SHA256 of ``body`` keyed with ``secret`` (the
    signature of Shopify's and WooCommerce's webhooks)."""
    return base64.b64encode(hmac_digest(secret, body)).decode()


# -- payload readers ----------------------------------------------------------------


def invalid_payload(message, json_path):
    """The error of a payload that does not have the documented shape."""
    return PermanentError(message, kind="invalid_payload", json_path=json_path)


def parse_decimal(value):
    """``value`` (a number or a decimal string) as a finite ``Decimal``.

    :raise TypeError: ``value`` is not a number nor a string (booleans are
        not numbers)
    :raise ValueError: the string is no number, or the number is not finite
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation as err:
        raise ValueError(value) from err
    if not number.is_finite():
        raise ValueError(value)
    return number


def json_number(value):
    """A ``Decimal`` as a JSON number: an int when whole, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def whole_number(value):
    """``value`` as an int when it is a whole number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def compact(values):
    """``values`` without its empty ones: the canonical schemas have no
    nullable fields."""
    return {key: value for key, value in values.items() if value not in (None, "")}


def email_or_none(text):
    """``text`` when it looks like an e-mail address, else None."""
    return text if text and EMAIL_RE.match(text) else None


def country_or_none(code):
    """``code`` when it is a two-letter country code, else None."""
    return code if code and COUNTRY_RE.match(code) else None


def naive_utc(moment):
    """A datetime as naive UTC, whether it came aware or naive (naive UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


# -- outbound ----------------------------------------------------------------------


def chunks(entries, size):
    """``entries`` (a sequence) in slices of ``size`` at the most."""
    for start in range(0, len(entries), size):
        yield entries[start : start + size]


def stock_result(item, status, actual, message=""):
    """One result of ``export_stock`` (see ``DistributionAdapter``)."""
    return {
        "sku": item.get("sku"),
        "status": status,
        "actual_quantity": actual,
        "message": message,
    }


def pulled_canonical_orders(answer, next_key, next_types):
    """The orders of one page of a canonical order pull, as ``pull_orders``
    yields them (an iterator), and the page's ``next_key`` value.

    :param answer: ``{"orders": [canonical orders], next_key: ...}``
    :param next_types: the types ``next_key`` may have
    :raise PermanentError: the page or one of its orders is malformed
    """
    orders = answer.get("orders") if isinstance(answer, dict) else None
    following = answer.get(next_key) if isinstance(answer, dict) else None
    if not isinstance(orders, list) or not isinstance(following, next_types):
        raise PermanentError(
            f"The order list answer is not {{orders: [...], {next_key}}}.",
            kind="invalid_response",
        )
    return _pulled_orders(orders), following


def _pulled_orders(orders):
    """Each order is checked as it is reached: those before a malformed one
    are pulled."""
    for order in orders:
        if not isinstance(order, dict) or not order.get("external_id"):
            raise PermanentError(
                "The order list holds an order without external_id.",
                kind="invalid_response",
            )
        external_id = str(order["external_id"])
        yield {
            "topic": "order",
            "event_id": f"pull:{external_id}:{order.get('updated_at') or ''}",
            "external_ref": external_id,
            "payload": order,
        }
