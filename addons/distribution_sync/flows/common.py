"""What several flows share: finding products, orders and transfers from the
external references a backend sends, and telling Odoo's records apart from
the external ids bound to them."""

import contextlib
import hashlib
import json
from datetime import datetime, timezone

from psycopg2.errors import LockNotAvailable

from odoo.tools import SQL

from odoo.addons.distribution_connector.errors import PermanentError, TransientError

ORDER_MODEL = "sale.order"
PRODUCT_MODEL = "product.product"
PARTNER_MODEL = "res.partner"
PICKING_MODEL = "stock.picking"
LOCATION_MODEL = "stock.location"


def parse_datetime(value):
    """ISO 8601 -> naive UTC datetime (Odoo's convention)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def format_datetime(value):
    """Naive UTC datetime -> ISO 8601 with a Z, as the canonical schemas want."""
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


def picking_key(kind, external_id):
    """External id under which a transfer is bound for one kind of object.

    One transfer answers to several external objects of the same backend (a
    3PL's shipment id, a channel's fulfillment or refund id) whose ids may
    collide, e.g. two numeric sequences of one shop: the kind keeps them apart.
    """
    return f"{kind}:{external_id}"


def content_fingerprint(data, date_keys=()):
    """Digest of what a canonical object says, the same for every delivery
    of it: keys in order, list items in a stable order (lines listed in
    another order say the same), numbers as numbers (``2`` and ``2.0``),
    the date-times of ``date_keys`` in UTC."""
    data = dict(data)
    for key in date_keys:
        if data.get(key):
            # a date-time Python cannot read is compared as sent
            with contextlib.suppress(ValueError):
                data[key] = format_datetime(parse_datetime(data[key]))
    canonical = json.dumps(
        _comparable(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _comparable(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted(
            (_comparable(item) for item in value),
            key=lambda item: json.dumps(item, sort_keys=True),
        )
    return value


def find_product(env, backend, sku, json_path=None):
    """The product a backend's SKU stands for: its SKU mapping (binding), else
    the one product with that internal reference in the backend's company."""
    binding = env["distribution.binding"]._find(backend, PRODUCT_MODEL, sku)
    product = binding._record() if binding else env[PRODUCT_MODEL]
    if product:
        return product
    products = env[PRODUCT_MODEL].search(
        [
            ("default_code", "=", sku),
            ("company_id", "in", [False, backend.company_id.id]),
        ],
        limit=2,
    )
    if len(products) == 1:
        return products
    reason = "matches several products" if products else "matches no product"
    raise PermanentError(
        f"SKU {sku} {reason} for {backend.name}: map it to a product "
        "(SKU mapping) or set the product's internal reference, then retry.",
        kind="unknown_sku",
        key=sku,
        json_path=json_path,
    )


def quantities_by_product(env, backend, lines, path="$.lines"):
    """``({product: quantity}, {product: SKU})`` of canonical lines (``sku``,
    ``quantity``); a product listed twice adds up. Every unknown SKU is named
    in one error."""
    quantities = {}
    skus = {}
    unknown = []
    for index, line in enumerate(lines):
        try:
            product = find_product(env, backend, line["sku"], f"{path}[{index}].sku")
        except PermanentError as err:
            unknown.append(err)
            continue
        quantities[product] = quantities.get(product, 0.0) + line["quantity"]
        skus.setdefault(product, line["sku"])
    raise_first(unknown, "Also unknown")
    return quantities, skus


def raise_first(errors, also):
    """Raise the first error of a list, naming the keys of the others."""
    if not errors:
        return
    first = errors[0]
    if len(errors) > 1:
        first.message += f" {also}: " + ", ".join(e.key for e in errors[1:]) + "."
        first.args = (first.message,)
    raise first


def product_skus(env, backend, products):
    """``{product id: SKU}`` the backend knows the products by: the external id
    of their SKU mapping, else their internal reference (None without)."""
    skus = {product.id: product.default_code or None for product in products}
    bindings = env["distribution.binding"].search(
        [
            ("backend_id", "=", backend.id),
            ("res_model", "=", PRODUCT_MODEL),
            ("res_id", "in", products.ids),
        ],
        order="id",
    )
    mapped = {}
    for binding in bindings:
        mapped.setdefault(binding.res_id, binding.external_id)
    skus.update(mapped)
    return skus


def bound_order(env, backend, external_id):
    """The sales order imported from ``backend`` under ``external_id``."""
    binding = env["distribution.binding"]._find(backend, ORDER_MODEL, external_id)
    return binding._record() if binding else env[ORDER_MODEL]


def unknown_order(backend, external_id, json_path="$.order_external_id"):
    return PermanentError(
        f"No order {external_id} was imported from {backend.name}. It may not "
        "have arrived yet: retry once it is imported.",
        kind="unknown_order",
        key=external_id,
        json_path=json_path,
    )


def is_delivery(picking):
    """A transfer that takes an order's goods out to the customer (the last
    step of a multi-step delivery), not a return."""
    return picking.picking_type_code == "outgoing" and not picking.return_id


def lock_picking(picking):
    """Row lock on a transfer until the transaction ends, tried, not waited
    for (see ``distribution.binding._lock``): two events validating the same
    transfer at once are serialized, the loser retries."""
    cr = picking.env.cr
    try:
        with cr.savepoint(flush=False):
            cr.execute(
                SQL(
                    "SELECT id FROM stock_picking WHERE id = %s FOR UPDATE NOWAIT",
                    picking.id,
                ),
                log_exceptions=False,
            )
    except LockNotAvailable as err:
        raise TransientError(
            f"Transfer {picking.name} is being processed by another worker.",
            key=picking.name,
        ) from err
