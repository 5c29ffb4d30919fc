"""Shopify adapter.

Inbound: Shopify signs each webhook with ``X-Shopify-Hmac-Sha256``, the
base64 HMAC-SHA256 of the raw body keyed with the app's client secret (the
backend's webhook secret); ``X-Shopify-Topic`` names the topic
(``orders/create``...), ``X-Shopify-Event-Id`` identifies the event across
retries. Payloads are REST Admin API resources (``shopify_mapping``).
Neither header is signed: what a delivery means comes from its body (an
``orders/cancelled`` delivery needs an order with ``cancelled_at``; an order
is applied only when its ``updated_at`` is newer than the version applied).
Topics Shopify documents but this adapter does not handle are kept as
ignored and acknowledged (``shopify_topics``).

Outbound, on the GraphQL Admin API (``shopify_api``): stock with
``inventorySetQuantities`` (compare-and-swap, at most 250 quantities a call),
fulfillments from the order's fulfillment orders; order pulls on the REST
``orders.json`` endpoint, whose resources are the webhook payloads.
"""

import hashlib
from urllib.parse import parse_qs, urlsplit

from odoo.addons.distribution_connector.adapters.base import (
    DistributionAdapter,
    any_digest_matches,
)
from odoo.addons.distribution_connector.adapters.tools import (
    base64_signature as sign,
)
from odoo.addons.distribution_connector.adapters.tools import (
    chunks,
    compact,
    naive_utc,
    stock_result,
    whole_number,
)
from odoo.addons.distribution_connector.errors import (
    DistributionError,
    PermanentError,
)

from . import shopify_mapping
from .shopify_api import (
    AVAILABLE_QUANTITIES,
    AVAILABLE_QUANTITIES_SCHEMA,
    FULFILLMENT_CREATE,
    INVENTORY_ITEM_GID,
    LOCATION_GID,
    ORDER_GID,
    ORDERS_PAGE_SCHEMA,
    SET_QUANTITIES,
    SET_QUANTITIES_SCHEMA,
    STALE_CODES,
    ShopifyGraphql,
    ShopifyHttpClient,
    allocate,
    check,
    fulfillment_create_schema,
    gid,
    read_fulfillment_orders,
    refused_quantities,
)
from .shopify_topics import DOCUMENTED_TOPICS

HMAC_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"
SHOP_HEADER = "x-shopify-shop-domain"

#: Admin API version of a backend that names none
DEFAULT_API_VERSION = "2026-10"
#: first API version with ``fulfillmentCreate`` (before: fulfillmentCreateV2)
FULFILLMENT_CREATE_SINCE = "2025-04"
#: first API version whose ``inventorySetQuantities`` takes
#: ``changeFromQuantity`` per quantity; 2026-04 removes ``compareQuantity``
#: and ``ignoreCompareQuantity`` and requires it
CHANGE_FROM_QUANTITY_SINCE = "2026-01"
#: largest page of the REST orders endpoint
ORDERS_PAGE_SIZE = 250


class ShopifyAdapter(DistributionAdapter):
    code = "shopify"
    label = "Shopify"
    mappers = shopify_mapping.MAPPERS
    topics = {
        "orders/create": "order",
        "orders/updated": "order",
        "orders/paid": "order",
        "orders/cancelled": "order_cancellation",
        "refunds/create": "return",
    }
    #: the other topics Shopify documents: kept as ignored, acknowledged
    ignored_topics = DOCUMENTED_TOPICS - set(topics)
    kept_headers = (
        TOPIC_HEADER,
        EVENT_ID_HEADER,
        WEBHOOK_ID_HEADER,
        TRIGGERED_AT_HEADER,
        SHOP_HEADER,
        "x-shopify-api-version",
    )
    #: Shopify refuses input arrays longer than 250 items
    max_batch_size = 250
    http_client_class = ShopifyHttpClient

    # -- inbound webhooks -------------------------------------------------

    def verify_signature(self, headers, body):
        """The HMAC of one of the backend's client secrets; and, when the
        backend's API URL names a myshopify.com shop, a delivery from that
        shop (an app installed on several shops signs all their webhooks with
        the same secret)."""
        given = headers.get(HMAC_HEADER, "").strip()
        expected = [sign(secret, body) for secret in self.backend._webhook_secrets()]
        signed = any_digest_matches(expected, given)
        shop = self.shop_domain()
        sender = headers.get(SHOP_HEADER, "").strip().lower()
        return signed and not (shop and sender and sender != shop)

    def shop_domain(self):
        """``<shop>.myshopify.com`` of the backend's API URL, if it is one."""
        host = (urlsplit(self.backend.api_base_url or "").hostname or "").lower()
        return host if host.endswith(".myshopify.com") else None

    def resolve_topic(self, url_topic, headers):
        """``X-Shopify-Topic``; else the URL's last segment, where a topic is
        written with a dash (``orders-create``) since it cannot hold a slash."""
        topic = headers.get(TOPIC_HEADER, "").strip()
        return topic or url_topic.replace("-", "/")

    def event_id(self, topic, headers, payload, body):
        event_id = headers.get(EVENT_ID_HEADER) or headers.get(WEBHOOK_ID_HEADER)
        if event_id and event_id.strip():
            return event_id.strip()
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def external_reference(self, topic, payload):
        if not isinstance(payload, dict):
            return None
        key = "order_id" if topic.startswith("refunds/") else "id"
        value = payload.get(key)
        return str(value) if value is not None else None

    # -- outbound: helpers ----------------------------------------------------

    @property
    def api_version(self):
        return self.backend.shopify_api_version or DEFAULT_API_VERSION

    def graphql(self, client=None):
        return ShopifyGraphql(client or self.http_client(), self.api_version)

    def location_gid(self):
        location = gid(LOCATION_GID, self.backend.shopify_location_id)
        if not location:
            raise PermanentError(
                f"Backend {self.backend.name} has no Shopify location to publish "
                "stock to.",
                kind="configuration",
            )
        return location

    # -- outbound stock -------------------------------------------------------

    def export_stock(self, items):
        """Set the ``available`` quantity at the backend's location, with
        Shopify's compare-and-swap on the ``compare_quantity`` (the quantity
        published last).

        From API 2026-01 each quantity carries ``changeFromQuantity``: the
        compare value, or null for an item never published before (no check).
        Before, the compare value is ``compareQuantity``, and the items never
        published are sent in separate calls with ``ignoreCompareQuantity``
        (the flag holds for a whole call). A stale compare
        (``CHANGE_FROM_QUANTITY_STALE`` / ``COMPARE_QUANTITY_STALE``) is
        reported as ``mismatch`` with the quantity Shopify holds, read back;
        when Shopify already holds the quantity we want (a previous attempt
        got through), it is ``ok``: a job retried after a call failed midway
        sends the whole batch again safely.
        """
        location = self.location_gid()
        results = [None] * len(items)
        entries = []
        seen = set()
        for index, item in enumerate(items):
            entry, error = self._stock_entry(index, item, seen)
            if error:
                results[index] = stock_result(item, "error", None, error)
            else:
                entries.append(entry)
        if self.change_from_quantity:
            groups = [(entries, False)]
        else:
            groups = [
                ([e for e in entries if e["compare"] is not None], False),
                ([e for e in entries if e["compare"] is None], True),
            ]
        graphql = self.graphql()
        for group, ignore_compare in groups:
            for batch in chunks(group, self.max_batch_size):
                self._set_quantities(graphql, location, batch, ignore_compare, results)
        return results

    @property
    def change_from_quantity(self):
        """Whether the backend's API version compares with
        ``changeFromQuantity`` (else ``compareQuantity``)."""
        return self.api_version >= CHANGE_FROM_QUANTITY_SINCE

    def read_stock(self, items):
        """Shopify's ``available`` quantity of the items' inventory items
        (``external_ref``: ``gid://shopify/InventoryItem/...``) at the
        backend's location, ``max_batch_size`` items a query. An item without
        an inventory item, or not stocked at the location, has no quantity
        (None)."""
        location = self.location_gid()
        gids = [gid(INVENTORY_ITEM_GID, item.get("external_ref")) for item in items]
        graphql = self.graphql()
        found = {}
        for batch in chunks(sorted({g for g in gids if g}), self.max_batch_size):
            data = graphql.execute(
                "inventoryLevels",
                AVAILABLE_QUANTITIES,
                {"ids": batch, "locationId": location},
                topic="stock_check",
            )
            nodes = check(AVAILABLE_QUANTITIES_SCHEMA, data, "inventory levels")
            for node in nodes["nodes"]:
                level = (node or {}).get("inventoryLevel") or {}
                for quantity in level.get("quantities") or []:
                    if quantity["name"] == "available":
                        found[node.get("id")] = quantity["quantity"]
        return [
            {"sku": item.get("sku"), "quantity": found.get(item_gid)}
            for item, item_gid in zip(items, gids, strict=True)
        ]

    def _stock_entry(self, index, item, seen):
        item_gid = gid(INVENTORY_ITEM_GID, item.get("external_ref"))
        if not item_gid:
            return None, (
                "No Shopify inventory item (gid://shopify/InventoryItem/...) is "
                f"known for this product (got {item.get('external_ref')!r})."
            )
        if item_gid in seen:
            return None, f"Inventory item {item_gid} appears twice in one export."
        quantity = whole_number(item.get("quantity"))
        if quantity is None or quantity < 0:
            return None, (
                f"Shopify counts whole units: cannot publish {item.get('quantity')!r}."
            )
        compare = item.get("compare_quantity")
        if compare is not None:
            compare = whole_number(compare)
            if compare is None:
                return None, (
                    f"Cannot compare with {item.get('compare_quantity')!r}: not a "
                    "whole number."
                )
        seen.add(item_gid)
        return {
            "index": index,
            "item": item,
            "gid": item_gid,
            "quantity": quantity,
            "compare": compare,
        }, None

    def _set_quantities(self, graphql, location, batch, ignore_compare, results):
        """One batch; Shopify applies a call whole or not at all, so when
        some quantities are refused the others are sent again without them.
        ``ignore_compare`` is the call's ``ignoreCompareQuantity`` before API
        2026-01; from 2026-01 no call carries it."""
        change_from = self.change_from_quantity
        pending = list(batch)
        while pending:
            quantities = []
            for entry in pending:
                quantity = {
                    "inventoryItemId": entry["gid"],
                    "locationId": location,
                    "quantity": entry["quantity"],
                }
                if change_from:
                    # null (never published): explicitly no check
                    quantity["changeFromQuantity"] = entry["compare"]
                elif not ignore_compare:
                    quantity["compareQuantity"] = entry["compare"]
                quantities.append(quantity)
            variables = {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "referenceDocumentUri": (
                        f"gid://distribution-sync/StockPublish/{self.backend.id}"
                    ),
                    "quantities": quantities,
                }
            }
            if not change_from:
                variables["input"]["ignoreCompareQuantity"] = ignore_compare
            data = graphql.execute(
                "inventorySetQuantities", SET_QUANTITIES, variables, topic="stock"
            )
            answer = check(SET_QUANTITIES_SCHEMA, data, "inventorySetQuantities")[
                "inventorySetQuantities"
            ]
            refused = refused_quantities(answer["userErrors"], pending)
            stale = []
            for position, errors in refused.items():
                entry = pending[position]
                if any(error.get("code") in STALE_CODES for error in errors):
                    stale.append(entry)
                else:
                    message = "; ".join(
                        f"{error.get('code') or 'ERROR'}: {error['message']}"
                        for error in errors
                    )
                    results[entry["index"]] = stock_result(
                        entry["item"], "error", None, message
                    )
            if stale:
                self._report_stale(graphql, location, stale, results)
            rest = [e for p, e in enumerate(pending) if p not in refused]
            if not refused or answer.get("inventoryAdjustmentGroup") is not None:
                for entry in rest:
                    results[entry["index"]] = stock_result(
                        entry["item"], "ok", entry["quantity"]
                    )
                return
            pending = rest  # nothing was applied: send the accepted ones again

    def _report_stale(self, graphql, location, stale, results):
        actual = {}
        message = ""
        try:
            data = graphql.execute(
                "inventoryLevels",
                AVAILABLE_QUANTITIES,
                {"ids": [entry["gid"] for entry in stale], "locationId": location},
                topic="stock",
            )
            for node in check(AVAILABLE_QUANTITIES_SCHEMA, data, "inventory levels")[
                "nodes"
            ]:
                level = (node or {}).get("inventoryLevel") or {}
                for quantity in level.get("quantities") or []:
                    if quantity["name"] == "available":
                        actual[node.get("id")] = quantity["quantity"]
        except DistributionError as err:
            # the compare failed either way: report it without the number
            message = f" (could not read Shopify's quantity back: {err.message})"
        for entry in stale:
            found = actual.get(entry["gid"])
            if found is not None and found == entry["quantity"]:
                results[entry["index"]] = stock_result(
                    entry["item"], "ok", found, "Shopify already had this quantity."
                )
                continue
            shown = "unknown" if found is None else found
            results[entry["index"]] = stock_result(
                entry["item"],
                "mismatch",
                found,
                f"Shopify's available quantity is {shown}, not {entry['compare']}"
                f"{message}.",
            )

    # -- outbound fulfillment -----------------------------------------------

    def export_fulfillment(self, shipment):
        """Fulfill the shipped quantities from the order's open fulfillment
        orders, with tracking information; one fulfillment per fulfillment
        order (Shopify fulfills one location at a time). Quantities already
        fulfilled are not sent again: repeating an export does nothing."""
        order_gid = gid(ORDER_GID, shipment.get("order_external_id"))
        if not order_gid:
            raise PermanentError(
                f"Not a Shopify order id: {shipment.get('order_external_id')!r}.",
                kind="invalid_payload",
                json_path="$.order_external_id",
            )
        graphql = self.graphql()
        fulfillment_orders = read_fulfillment_orders(graphql, order_gid)
        plan = allocate(fulfillment_orders, shipment.get("lines") or [])
        if not plan:
            return {"external_id": None, "message": "Already fulfilled on Shopify."}
        tracking = compact(
            {
                "number": shipment.get("tracking_number"),
                "url": shipment.get("tracking_url"),
                "company": shipment.get("carrier"),
            }
        )
        if self.api_version >= FULFILLMENT_CREATE_SINCE:
            mutation, input_type = "fulfillmentCreate", "FulfillmentInput"
        else:
            mutation, input_type = "fulfillmentCreateV2", "FulfillmentV2Input"
        query = FULFILLMENT_CREATE % {"mutation": mutation, "input": input_type}
        schema = fulfillment_create_schema(mutation)
        created = []
        for fulfillment_order_id, lines in plan.items():
            fulfillment = {
                "notifyCustomer": bool(self.backend.shopify_notify_customer),
                "lineItemsByFulfillmentOrder": [
                    {
                        "fulfillmentOrderId": fulfillment_order_id,
                        "fulfillmentOrderLineItems": [
                            {"id": line_id, "quantity": quantity}
                            for line_id, quantity in lines
                        ],
                    }
                ],
            }
            if tracking:
                fulfillment["trackingInfo"] = tracking
            data = graphql.execute(
                mutation, query, {"fulfillment": fulfillment}, topic="fulfillment"
            )
            answer = check(schema, data, mutation)[mutation]
            if answer["userErrors"] or not answer.get("fulfillment"):
                messages = "; ".join(e["message"] for e in answer["userErrors"][:5])
                raise PermanentError(
                    f"Shopify refused the fulfillment of {order_gid}: "
                    f"{messages or 'no fulfillment returned'}",
                    kind="permanent",
                    key=shipment.get("order_external_id"),
                )
            created.append(answer["fulfillment"]["id"])
        return {"external_id": created[0], "external_ids": created}

    # -- reconciliation ---------------------------------------------------------

    def pull_orders(self, updated_since):
        """Every order updated since ``updated_since``, page after page of the
        REST orders endpoint (its resources are the webhook payloads),
        following the ``Link: <...page_info=...>; rel="next"`` header."""
        updated_since = naive_utc(updated_since)
        client = self.http_client()
        path = f"admin/api/{self.api_version}/orders.json"
        params = {
            "updated_at_min": updated_since.replace(microsecond=0).isoformat()
            + "+00:00",
            "status": "any",
            "limit": ORDERS_PAGE_SIZE,
        }
        cursors = set()
        seen = set()
        while True:
            response = client.request("GET", path, topic="order_pull", params=params)
            try:
                answer = response.json()
            except ValueError as err:
                raise PermanentError(
                    "Shopify answered an orders page that is not JSON.",
                    kind="permanent",
                ) from err
            for order in check(ORDERS_PAGE_SCHEMA, answer, "an orders page")["orders"]:
                key = (str(order["id"]), order["updated_at"])
                if key in seen:
                    continue
                seen.add(key)
                yield {
                    "topic": "orders/updated",
                    "event_id": f"pull:{key[0]}:{key[1]}",
                    "external_ref": key[0],
                    "payload": order,
                }
            next_url = (response.links.get("next") or {}).get("url")
            if not next_url:
                return
            page_info = parse_qs(urlsplit(next_url).query).get("page_info")
            if not page_info or page_info[0] in cursors:
                raise PermanentError(
                    "Shopify's orders pages do not advance (Link header without a "
                    "new page_info).",
                    kind="permanent",
                )
            cursors.add(page_info[0])
            # a page_info carries the filters: only the page size may follow it
            params = {"limit": ORDERS_PAGE_SIZE, "page_info": page_info[0]}
