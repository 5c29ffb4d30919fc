"""Calls to the WooCommerce REST API v3, on the shared HTTP client: its
authentication, where its endpoints are, how products are named, and what
its answers hold.
"""

import base64
import math
from decimal import ROUND_FLOOR, Decimal

from odoo.addons.distribution_connector.adapters.tools import (
    MAX_PAGES,
    chunks,
    stock_result,
)
from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.http_client import BackendHttpClient

from .woocommerce_mapping import text

API_PATH = "wp-json/wc/v3"
#: WooCommerce's default limit of objects per batch request
BATCH_LIMIT = 100
#: largest page of the collection endpoints
PAGE_SIZE = 100
#: order statuses that a shipment must not turn into "completed"
FINAL_STATUSES = ("completed", "cancelled", "refunded", "failed", "trash")


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


def endpoint(backend, path):
    """``path`` under the REST API root, whether the backend's base URL is
    the shop's root or already ends with ``/wp-json/wc/v3``."""
    base = (backend.api_base_url or "").rstrip("/")
    return path if base.endswith("/" + API_PATH) else f"{API_PATH}/{path}"


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


def products_by_sku(client, backend, skus):
    """SKU -> (None, product id) of the products the shop lists with
    these SKUs. The products endpoint does not list variations: those
    need their ``variation:<parent id>:<id>`` reference."""
    wanted = sorted({sku for sku in skus if sku and "," not in sku})
    found = {}
    for chunk in chunks(wanted, PAGE_SIZE):
        listed = client.json(
            "GET",
            endpoint(backend, "products"),
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


def no_product_message(item):
    if item.get("external_ref"):
        return (
            f"{item['external_ref']!r} is not a WooCommerce reference: use "
            "product:<id> or variation:<parent id>:<id>."
        )
    return (
        f"No WooCommerce product has SKU {item.get('sku')}: a variation "
        "needs the external reference variation:<parent id>:<id>."
    )


def stock_entry_result(item, entry, quantity):
    """The result of one object of a batch answer, ``quantity`` sent."""
    error = entry.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        shown = text(message) or str(error)
        return stock_result(item, "error", None, f"{shown} ({code})" if code else shown)
    actual = entry.get("stock_quantity")
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return stock_result(
            item,
            "error",
            None,
            "WooCommerce answered without a stock quantity: is stock "
            "management on for this product?",
        )
    if math.isclose(actual, quantity):
        return stock_result(item, "ok", actual)
    return stock_result(
        item,
        "mismatch",
        actual,
        f"WooCommerce holds {actual} where {quantity} was sent.",
    )


def total_pages(response, page, count):
    """The pages of a collection, from ``X-WP-TotalPages``."""
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
            f"WooCommerce announces {total} pages of orders: pull from a later date.",
            kind="permanent",
        )
    return total
