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
  payload alone never makes a return (``woocommerce_mapping.map_refund_returns``
  maps the
  refunds whose lines are known, e.g. fetched from ``orders/<id>/refunds``).
* **Stock**: ``products/batch`` and ``products/<parent>/variations/batch``,
  at most 100 objects a request, addressed by ``product:<id>`` or
  ``variation:<parent id>:<id>``, or for simple products by their SKU
  (``GET products?sku=``; that endpoint does not list variations).
  WooCommerce has no compare-and-set: the quantity is written as is, then
  read back from the batch answer.
"""

import re
from collections import defaultdict

from odoo.addons.distribution_connector.adapters.base import (
    DistributionAdapter,
    any_digest_matches,
)
from odoo.addons.distribution_connector.adapters.tools import (
    base64_signature as sign,
)
from odoo.addons.distribution_connector.adapters.tools import (
    chunks,
    naive_utc,
    stock_result,
)
from odoo.addons.distribution_connector.errors import PermanentError

from . import woocommerce_mapping
from .woocommerce_api import (
    BATCH_LIMIT,
    FINAL_STATUSES,
    PAGE_SIZE,
    WooCommerceHttpClient,
    add_tracking_note,
    batch_stock,
    covers_order,
    endpoint,
    no_product_message,
    parse_product_ref,
    products_by_sku,
    stock_amount,
    total_pages,
)
from .woocommerce_mapping import resource_event_id

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
DELIVERY_HEADER = "x-wc-webhook-delivery-id"
#: core webhook topics: resource.event (the REST API's webhook reference,
#: and ``restored`` for the resources that can leave the trash)
CORE_TOPICS = frozenset(
    f"{resource}.{event}"
    for resource in ("coupon", "customer", "order", "product")
    for event in ("created", "updated", "deleted")
) | {"coupon.restored", "order.restored", "product.restored"}
# the entities WordPress' wp_specialchars_decode(..., ENT_QUOTES) decodes
WP_ENTITIES_RE = re.compile(r"&(?:amp|lt|gt|quot|#0*39|#x0*27);", re.IGNORECASE)
WP_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"'}


def wp_decode_entities(text):
    """``text`` with the entities WooCommerce decodes from a webhook secret
    before signing (one pass, like PHP's ``strtr``)."""
    return WP_ENTITIES_RE.sub(
        lambda match: WP_ENTITIES.get(match.group(0).lower(), "'"), text
    )


class WooCommerceAdapter(DistributionAdapter):
    code = "woocommerce"
    label = "WooCommerce"
    mappers = woocommerce_mapping.MAPPERS
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

    def event_id(self, topic, headers, payload, body):
        if isinstance(payload, dict) and payload.get("id") not in (None, ""):
            return resource_event_id(payload)
        return super().event_id(topic, headers, payload, body)

    def external_reference(self, topic, payload):
        if isinstance(payload, dict) and payload.get("id") not in (None, ""):
            return str(payload["id"])
        return None

    # -- outbound -------------------------------------------------------------

    def _endpoint(self, path):
        return endpoint(self.backend, path)

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
        by_sku = products_by_sku(
            client,
            self.backend,
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
                results[index] = stock_result(
                    item, "error", None, no_product_message(item)
                )
                continue
            quantity = stock_amount(item.get("quantity"))
            if quantity is None:
                results[index] = stock_result(
                    item, "error", None, f"{item.get('quantity')!r} is not a quantity."
                )
                continue
            parent, object_id = ref
            entry = (index, object_id, quantity)
            if parent is None:
                products.append(entry)
            else:
                variations[parent].append(entry)
        for chunk in chunks(products, self.max_batch_size):
            batch_stock(client, self.backend, "products/batch", chunk, items, results)
        for parent, entries in variations.items():
            for chunk in chunks(entries, self.max_batch_size):
                path = f"products/{parent}/variations/batch"
                batch_stock(client, self.backend, path, chunk, items, results)
        return results

    def read_stock(self, items):
        """The shop's ``stock_quantity`` of the items' products and
        variations, listed by id (``include``), ``PAGE_SIZE`` a request;
        the objects are named as :meth:`export_stock` names them. An object
        the shop does not list, or whose stock it does not manage, has no
        quantity (None)."""
        refs = [parse_product_ref(item.get("external_ref")) for item in items]
        client = self.http_client()
        by_sku = products_by_sku(
            client,
            self.backend,
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
            for chunk in chunks(sorted(ids), PAGE_SIZE):
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
        note_id = add_tracking_note(client, self.backend, order_id, shipment)
        complete = shipment.get("complete")
        if complete is None:
            complete = covers_order(order, shipment)
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
            updated_since = naive_utc(updated_since)
            params["modified_after"] = updated_since.replace(microsecond=0).isoformat()
        path = self._endpoint("orders")
        page = last_page = 1
        while page <= last_page:
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
            last_page = total_pages(response, page, len(orders))
            for order in orders:
                yield {
                    "topic": "order.updated",
                    "event_id": resource_event_id(order),
                    "external_ref": str(order["id"]),
                    "payload": order,
                }
            page += 1
