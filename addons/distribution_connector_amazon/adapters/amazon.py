"""Amazon adapter (Selling Partner API, Orders API v0).

What Amazon does, and what this adapter makes of it:

* **No webhooks here**: Amazon notifies through SQS/EventBridge, not by
  posting to a URL, so orders arrive by the scheduled reconciliation pull
  only (``order_pull_enabled``); the webhook route refuses every delivery.
* **Authentication**: every call carries a Login with Amazon access token
  (``x-amz-access-token``), obtained from the seller's refresh token and
  kept until shortly before it expires; a 403 ``Unauthorized`` gets one new
  token and one more try. The buyer's address is personal data: it is read
  with a restricted data token, asked for once per pull and only when an
  order to ship needs it.
* **Pull**: ``getOrders`` by ``LastUpdatedAfter`` (the locked watermark
  minus the overlap), the backend's marketplaces and the fulfillment
  channels each of them is set to (merchant, Amazon, both), following
  ``NextToken``; each order's items by ``getOrderItems``.
* **Event id**: ``<AmazonOrderId>:<LastUpdateDate>``: a re-pulled version
  is the same exchange, a new status is a new one.
* **Statuses**: ``Pending`` orders are held back (not pulled into the inbox:
  not confirmed, nothing reserved) until Amazon releases them;
  ``Unshipped``/``PartiallyShipped`` are imported (and confirmed when the
  backend confirms); ``Canceled`` cancels through the order import's
  cancellation. Orders Amazon fulfills (``AFN``) are imported once
  ``Shipped``: they are sold from the backend's FBA warehouse and delivered
  at once (``sale.order._amazon_delivered_by_amazon``), and need no address.
* **FBA inventory** (``read_fba_inventory``): Amazon's stock, read for the
  backend's reconciliation only, as a stock snapshot of the FBA warehouse.
"""

from urllib.parse import quote

from odoo.addons.distribution_connector.adapters.base import (
    DistributionAdapter,
    any_digest_matches,
)
from odoo.addons.distribution_connector.adapters.tools import (
    MAX_PAGES,
    naive_utc,
    stock_result,
)
from odoo.addons.distribution_connector.errors import PermanentError

from . import amazon_mapping
from .amazon_api import (
    ADDRESS_PATH,
    AmazonHttpClient,
    availability_patch,
    listing_result,
    order_address,
    order_items,
    package_detail,
    payload_of,
    restricted_data_token,
    stock_quantity,
)
from .amazon_feeds import (
    ListingsFeed,
    download,
    patch_exchange,
    record_sku_results,
)
from .amazon_settlement import REPORT_TYPE

#: the topic of pulled orders
ORDER_TOPIC = "ORDER_CHANGE"
#: the URL topic of Amazon's ORDER_CHANGE notifications, posted by an
#: EventBridge API destination; the kind its exchanges carry
NOTIFICATION_TOPIC = "notification"
NOTIFICATION_KIND = "amazon_notification"
#: the header the API destination's connection sends (API key
#: authorisation): the backend's webhook secret
TOKEN_HEADER_NAME = "x-distribution-token"
#: the topic of FBA inventory summaries read for reconciliation
FBA_INVENTORY_TOPIC = "FBA_INVENTORY"
FBA_SUMMARIES = "/fba/inventory/v1/summaries"
#: the topic of settlement reports pulled for reconciliation
SETTLEMENT_TOPIC = "SETTLEMENT_REPORT"
REPORTS = "/reports/2021-06-30"
#: what ``getOrders`` lists: every status an imported order may take
PULLED_STATUSES = (
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "Canceled",
    "Unfulfillable",
)
#: stock items a job: one feed takes them all; one patch call each
FEED_BATCH = 2000
PATCH_BATCH = 20
#: statuses whose order still ships from us: its address is needed
TO_SHIP = frozenset({"Unshipped", "PartiallyShipped"})


class AmazonAdapter(DistributionAdapter):
    code = "amazon"
    label = "Amazon"
    mappers = amazon_mapping.MAPPERS
    topics = {
        NOTIFICATION_TOPIC: NOTIFICATION_KIND,
        ORDER_TOPIC: "order",
        FBA_INVENTORY_TOPIC: "stock_snapshot",
        SETTLEMENT_TOPIC: "settlement",
    }
    http_client_class = AmazonHttpClient

    # -- inbound -----------------------------------------------------------------

    def verify_signature(self, headers, body):
        """Amazon signs nothing it posts. Only its ``ORDER_CHANGE``
        notifications are taken, from an EventBridge API destination whose
        connection sends the backend's webhook secret in
        ``x-distribution-token``; what they say is never trusted: the order
        they name is read from Amazon (see ``fetch_order``)."""
        return any_digest_matches(
            self.backend._webhook_secrets(), headers.get(TOKEN_HEADER_NAME)
        )

    def resolve_topic(self, url_topic, headers):
        # orders themselves are never posted: only notifications about them
        return url_topic if url_topic == NOTIFICATION_TOPIC else f"refused:{url_topic}"

    def event_id(self, topic, headers, payload, body):
        order = payload.get("Order") if isinstance(payload, dict) else None
        if isinstance(order, dict) and order.get("AmazonOrderId"):
            return order_event_id(order)
        notification_id = notification_event_id(payload)
        if notification_id:
            return f"notification:{notification_id}"
        return super().event_id(topic, headers, payload, body)

    def external_reference(self, topic, payload):
        order = payload.get("Order") if isinstance(payload, dict) else None
        if isinstance(order, dict) and order.get("AmazonOrderId"):
            return str(order["AmazonOrderId"])
        return notification_order_id(payload)

    # -- outbound ----------------------------------------------------------------

    @property
    def max_batch_size(self):
        """A feed takes thousands of messages; one call a SKU keeps a job
        short: batches of 20 when the backend never sends feeds."""
        return FEED_BATCH if self.backend.amazon_feed_threshold else PATCH_BATCH

    def export_stock(self, items):
        """The merchant-fulfilled quantity of each SKU (``fulfillment_availability``,
        channel ``DEFAULT``), in every MFN marketplace of the backend: a batch
        of at least the backend's feed threshold as one ``JSON_LISTINGS_FEED``,
        a smaller one by ``patchListingsItem``, one call an item.

        Accepted is ``ok`` (Amazon applies it within minutes; it has no
        compare-and-set, the quantity read back is the one sent); a rejected
        SKU is ``error`` with Amazon's messages (the levels go in error) and
        an open exception of the SKU, resolved once Amazon accepts it.
        """
        backend = self.backend
        if not backend.amazon_seller_id:
            raise PermanentError(
                f"Backend {backend.name} has no Amazon seller id.",
                kind="configuration",
            )
        if not backend._amazon_marketplace_ids("mfn"):
            raise PermanentError(
                f"Backend {backend.name} has no merchant-fulfilled marketplace: "
                "Amazon owns the stock of FBA marketplaces, nothing is published "
                "to them.",
                kind="configuration",
            )
        results = [None] * len(items)
        entries = []
        for index, item in enumerate(items):
            quantity = stock_quantity(item.get("quantity"))
            sku = item.get("external_ref") or item.get("sku")
            if quantity is None or not sku:
                results[index] = stock_result(
                    item, "error", None, "No SKU or no quantity."
                )
            else:
                entries.append((index, item, sku, quantity))
        if not entries:
            return results
        client = self.http_client()
        threshold = backend.amazon_feed_threshold
        if threshold and len(entries) >= threshold:
            sent = ListingsFeed(self, client).export(
                items, [(item, sku, qty) for _i, item, sku, qty in entries]
            )
        else:
            sent = self._patch_listings(client, entries)
        for (index, *_rest), result in zip(entries, sent, strict=True):
            results[index] = result
        return results

    def _patch_listings(self, client, entries):
        backend = self.backend
        marketplaces = ",".join(backend._amazon_marketplace_ids("mfn"))
        results, rejected, answers = [], {}, []
        for _index, item, sku, quantity in entries:
            answer = client.call(
                "PATCH",
                f"/listings/2021-08-01/items/{backend.amazon_seller_id}/"
                + quote(sku, safe=""),
                operation="patchListingsItem",
                topic="stock",
                params={"marketplaceIds": marketplaces, "issueLocale": "en_US"},
                json=availability_patch(quantity),
            )
            result = listing_result(item, answer, quantity)
            results.append(result)
            if result["status"] == "error":
                rejected[sku] = result["message"]
                answers.append(answer)
        accepted = [sku for _i, _item, sku, _q in entries if sku not in rejected]
        exchange_id = patch_exchange(backend, answers) if rejected else None
        record_sku_results(backend, exchange_id, rejected, accepted)
        return results

    def export_fulfillment(self, shipment):
        """Confirm the shipment of an order (``confirmShipment``).

        Amazon's own count decides what is sent: each item's quantity in
        the shipment, at most what Amazon has not seen shipped yet
        (``QuantityOrdered - QuantityShipped`` of ``getOrderItems``); items
        matched by ``line_external_id`` (the ``OrderItemId``), else by SKU.
        A shipment Amazon knows already sends nothing, so a repeated job
        never confirms twice.
        """
        order_id = str(shipment.get("order_external_id") or "")
        if not order_id:
            raise PermanentError(
                "The shipment names no Amazon order.", kind="invalid_payload"
            )
        client = self.http_client()
        order = payload_of(
            client.call(
                "GET",
                f"/orders/v0/orders/{order_id}",
                operation="getOrder",
                topic="fulfillment",
            ),
            "getOrder",
            "MarketplaceId",
        )
        left = {}
        by_sku = {}
        for item in order_items(client, order_id, topic="fulfillment"):
            ordered = item.get("QuantityOrdered") or 0
            shipped = item.get("QuantityShipped") or 0
            item_id = str(item.get("OrderItemId"))
            left[item_id] = max(0, ordered - shipped)
            by_sku.setdefault(item.get("SellerSKU"), []).append(item_id)
        to_confirm = {}
        for line in shipment.get("lines") or []:
            quantity = int(line.get("quantity") or 0)
            candidates = (
                [str(line["line_external_id"])]
                if line.get("line_external_id")
                else by_sku.get(line.get("sku"), [])
            )
            for item_id in candidates:
                taken = min(quantity, left.get(item_id, 0))
                if taken > 0:
                    to_confirm[item_id] = to_confirm.get(item_id, 0) + taken
                    left[item_id] -= taken
                    quantity -= taken
        if not to_confirm:
            return {"external_id": None}
        detail = package_detail(shipment, sorted(to_confirm.items()))
        client.call(
            "POST",
            f"/orders/v0/orders/{order_id}/shipmentConfirmation",
            operation="confirmShipment",
            topic="fulfillment",
            json={"marketplaceId": order["MarketplaceId"], "packageDetail": detail},
            raw=True,
        )
        return {"external_id": f"{order_id}:{detail['packageReferenceId']}"}

    # -- reconciliation ------------------------------------------------------------

    def pull_orders(self, updated_since):
        """Orders of the backend's marketplaces updated since
        ``updated_since``, with their items (and the address of those to
        ship), as the inbox stores them."""
        backend = self.backend
        marketplaces = backend._amazon_marketplace_ids()
        if not marketplaces:
            raise PermanentError(
                f"Backend {backend.name} has no Amazon marketplace id.",
                kind="configuration",
            )
        channels = {
            marketplace: backend._amazon_fulfillment_channels(marketplace)
            for marketplace in marketplaces
        }
        client = self.http_client()
        params = {
            "MarketplaceIds": ",".join(marketplaces),
            "OrderStatuses": ",".join(PULLED_STATUSES),
            "FulfillmentChannels": ",".join(sorted(set().union(*channels.values()))),
        }
        if updated_since:
            moment = naive_utc(updated_since).replace(microsecond=0)
            params["LastUpdatedAfter"] = moment.isoformat() + "Z"
        tokens = {}
        for _page in range(MAX_PAGES):
            payload = payload_of(
                client.call(
                    "GET",
                    "/orders/v0/orders",
                    operation="getOrders",
                    topic="reconcile",
                    params=params,
                ),
                "getOrders",
                "Orders",
            )
            orders = payload["Orders"]
            if not isinstance(orders, list) or not all(
                isinstance(order, dict) and order.get("AmazonOrderId")
                for order in orders
            ):
                raise PermanentError(
                    "Amazon answered getOrders without a list of orders.",
                    kind="invalid_response",
                )
            for order in orders:
                item = self._pulled_item(client, order, channels, tokens)
                if item:
                    yield item
            next_token = payload.get("NextToken")
            if not next_token:
                return
            # a NextToken replaces every other filter but the marketplaces
            params = {
                "MarketplaceIds": params["MarketplaceIds"],
                "NextToken": next_token,
            }
        raise PermanentError(
            f"getOrders has more than {MAX_PAGES} pages.", kind="invalid_response"
        )

    def _pulled_item(self, client, order, channels, tokens):
        """The pulled order as the inbox stores it, with its items and, when
        it ships from us, its address; None for an order not to import
        (held, of a channel the marketplace does not import, an FBA order
        Amazon has not shipped yet) or a version the inbox holds.

        :param tokens: the restricted data token of the pull, asked for at
            the first order that needs an address (``tokens["address"]``)
        """
        status = order.get("OrderStatus")
        if status in amazon_mapping.HELD_STATUSES:
            return None
        channel = order.get("FulfillmentChannel") or "MFN"
        if channel not in channels.get(order.get("MarketplaceId"), ()):
            return None
        if channel == "AFN" and status in TO_SHIP:
            # Amazon ships it from its stock: imported once shipped
            return None
        order_id = str(order["AmazonOrderId"])
        if self._version_known(order):
            return None
        address = None
        if channel == "MFN" and status in TO_SHIP:
            if "address" not in tokens:
                tokens["address"] = restricted_data_token(client, ADDRESS_PATH)
            address = order_address(client, order_id, tokens["address"])
        return {
            "topic": ORDER_TOPIC,
            "event_id": order_event_id(order),
            "external_ref": order_id,
            "payload": {
                "Order": order,
                "OrderItems": order_items(client, order_id),
                "ShippingAddress": address,
            },
        }

    def fetch_order(self, order_id):
        """The order a notification named, read from Amazon (``getOrder``)
        and made ready for the inbox as a pull makes it; None when it is
        not to import (yet)."""
        backend = self.backend
        client = self.http_client()
        order = payload_of(
            client.call(
                "GET",
                f"/orders/v0/orders/{quote(order_id, safe='')}",
                operation="getOrder",
                topic="reconcile",
            ),
            "getOrder",
            "AmazonOrderId",
        )
        if str(order["AmazonOrderId"]) != order_id:
            raise PermanentError(
                f"Amazon answered getOrder of {order_id} with another order.",
                kind="invalid_response",
            )
        channels = {
            marketplace: backend._amazon_fulfillment_channels(marketplace)
            for marketplace in backend._amazon_marketplace_ids()
        }
        return self._pulled_item(client, order, channels, {})

    def read_fba_inventory(self, marketplace):
        """Every inventory summary of the seller's FBA stock in
        ``marketplace`` (``getInventorySummaries`` with details, following
        ``nextToken``)."""
        client = self.http_client()
        params = {
            "details": "true",
            "granularityType": "Marketplace",
            "granularityId": marketplace,
            "marketplaceIds": marketplace,
        }
        summaries = []
        for _page in range(MAX_PAGES):
            answer = client.call(
                "GET",
                FBA_SUMMARIES,
                operation="getInventorySummaries",
                topic="reconcile",
                params=params,
            )
            payload = payload_of(answer, "getInventorySummaries", "inventorySummaries")
            if not isinstance(payload["inventorySummaries"], list):
                raise PermanentError(
                    "Amazon answered getInventorySummaries without a list.",
                    kind="invalid_response",
                )
            summaries.extend(payload["inventorySummaries"])
            pagination = answer.get("pagination") or {}
            next_token = (
                pagination.get("nextToken") if isinstance(pagination, dict) else None
            )
            if not next_token:
                return summaries
            params = dict(params, nextToken=next_token)
        raise PermanentError(
            f"getInventorySummaries has more than {MAX_PAGES} pages.",
            kind="invalid_response",
        )

    def pull_settlement_reports(self, created_since):
        """The settlement reports (flat file V2) Amazon made since
        ``created_since`` that the inbox does not hold yet, with their
        documents, as the inbox stores them.

        Amazon schedules these reports itself (``createReport`` does not
        make them): they are listed by ``getReports`` and their document
        read by ``getReportDocument`` and its URL."""
        client = self.http_client()
        params = {
            "reportTypes": REPORT_TYPE,
            "processingStatuses": "DONE",
            "pageSize": 100,
        }
        if created_since:
            moment = naive_utc(created_since).replace(microsecond=0)
            params["createdSince"] = moment.isoformat() + "Z"
        for _page in range(MAX_PAGES):
            answer = client.call(
                "GET",
                f"{REPORTS}/reports",
                operation="getReports",
                topic="reconcile",
                params=params,
            )
            reports = answer.get("reports") if isinstance(answer, dict) else None
            if not isinstance(reports, list):
                raise PermanentError(
                    "Amazon answered getReports without a list of reports.",
                    kind="invalid_response",
                )
            for report in reports:
                if not isinstance(report, dict) or not report.get("reportDocumentId"):
                    continue
                event_id = f"settlement_report:{report.get('reportId')}"
                if self._exchange_known(SETTLEMENT_TOPIC, event_id):
                    continue
                document = client.call(
                    "GET",
                    f"{REPORTS}/documents/{report['reportDocumentId']}",
                    operation="getReportDocument",
                    topic="reconcile",
                )
                content = download(client, document, "getReportDocument", "reconcile")
                yield {
                    "topic": SETTLEMENT_TOPIC,
                    "event_id": event_id,
                    "external_ref": str(report.get("reportId")),
                    "payload": {
                        "reportId": report.get("reportId"),
                        "reportDocumentId": report["reportDocumentId"],
                        "dataStartTime": report.get("dataStartTime"),
                        "dataEndTime": report.get("dataEndTime"),
                        # the V2 flat file is UTF-8 (ISO-8859-1 in old files)
                        "document": _text(content),
                    },
                }
            if not answer.get("nextToken"):
                return
            # a nextToken replaces every other parameter
            params = {"nextToken": answer["nextToken"]}
        raise PermanentError(
            f"getReports has more than {MAX_PAGES} pages.", kind="invalid_response"
        )

    def _exchange_known(self, topic, event_id):
        exchanges = self.backend.env["distribution.exchange"].sudo()
        return bool(
            exchanges.search_count(
                [
                    ("backend_id", "=", self.backend.id),
                    ("direction", "=", "in"),
                    ("topic", "=", topic),
                    ("external_event_id", "=", event_id),
                ],
                limit=1,
            )
        )

    def _version_known(self, order):
        """True when this version of the order is in the inbox already: its
        items are not fetched again (``getOrderItems`` allows half a
        call a second)."""
        exchanges = self.backend.env["distribution.exchange"].sudo()
        return bool(
            exchanges.search_count(
                [
                    ("backend_id", "=", self.backend.id),
                    ("direction", "=", "in"),
                    ("topic", "=", ORDER_TOPIC),
                    ("external_event_id", "=", order_event_id(order)),
                ],
                limit=1,
            )
        )


def _text(content):
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("iso-8859-1")


def _notification(payload):
    """The ``OrderChangeNotification`` of a notification, as SQS carries it
    (``{"NotificationType", "Payload": {...}}``) or EventBridge (the same
    in ``detail``); None otherwise."""
    if not isinstance(payload, dict):
        return None
    body = payload.get("detail") if isinstance(payload.get("detail"), dict) else payload
    if body.get("NotificationType") != "ORDER_CHANGE":
        return None
    inner = body.get("Payload")
    change = inner.get("OrderChangeNotification") if isinstance(inner, dict) else None
    return (body, change) if isinstance(change, dict) else None


def notification_order_id(payload):
    found = _notification(payload)
    order_id = found[1].get("AmazonOrderId") if found else None
    return str(order_id) if isinstance(order_id, str) and order_id else None


def notification_event_id(payload):
    found = _notification(payload)
    if not found:
        return None
    metadata = found[0].get("NotificationMetadata")
    notification_id = (
        metadata.get("NotificationId") if isinstance(metadata, dict) else None
    )
    return notification_id or (payload.get("id") if "detail" in payload else None)


def order_event_id(order):
    return f"{order['AmazonOrderId']}:{order.get('LastUpdateDate') or '-'}"
