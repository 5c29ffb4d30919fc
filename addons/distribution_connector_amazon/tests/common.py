"""An Amazon backend and a local server answering as the Selling Partner API
does (Orders API v0, Tokens API 2021-03-01, Login with Amazon).

The fixtures follow Amazon's documented models: ``order.json`` the
``Order`` of the Orders API v0 reference (getOrders), ``order_items.json``
the ``GetOrderItemsResponse``, ``order_address.json`` the
``GetOrderAddressResponse``; ``listings_feed_processing_report.json`` the
JSON listings feed processing report schema v2 (Feeds API 2021-06-30);
``fba_inventory_summaries*.json`` the ``GetInventorySummariesResponse`` of
the FBA Inventory API v1; ``samples/settlement_report_v2.tsv`` the
documented columns of the flat file V2 settlement report. Token answers
follow the "Connect to the SP-API" guide (LWA) and the Tokens API reference
(createRestrictedDataToken); the feed and report answers the Feeds and
Reports API 2021-06-30 references; the 429 answer the SP-API usage plans
guide (``QuotaExceeded``).
"""

import gzip
import json
import os
from operator import attrgetter
from urllib.parse import parse_qs

from odoo.tests.common import HttpCase

from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.distribution_connector.tests.common import json_fixtures
from odoo.addons.distribution_connector.tests.fake_server import FakeServer
from odoo.addons.distribution_sync.tests.common import OrderImportMixin

from ..adapters import amazon_api
from ..adapters.amazon import AmazonAdapter

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
ORDERS = "/orders/v0/orders"
LWA = "/auth/o2/token"
RDT = "/tokens/2021-03-01/restrictedDataToken"
MARKETPLACE = "A1PA6795UKMFR9"
FEEDS = "/feeds/2021-06-30"
FEED_ID = "50001019000"


fixture = json_fixtures(FIXTURES)


def amazon_order(order_id="902-3159896-1390916", **changes):
    order = fixture("order.json")
    order.update(AmazonOrderId=order_id, **changes)
    return order


class FakeSellingPartner:
    """Seller Central as the SP-API shows it: LWA tokens (a new one each
    time), restricted data tokens, orders with their items and addresses.
    Calls without a valid access token are answered 403 Unauthorized."""

    def __init__(self, server):
        self.server = server
        self.issued = 0
        self.valid_tokens = set()
        self.items = {}
        server.route("POST", LWA, self._token)
        server.route("POST", RDT, self._rdt)

    def _token(self, recorded):
        form = parse_qs(recorded.body.decode())
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
            AmazonTestMixin.REFRESH_TOKEN
        ]:
            return 400, {"error": "invalid_grant"}, {}
        self.issued += 1
        token = f"Atza|access-{self.issued}"
        self.valid_tokens.add(token)
        return (
            200,
            {
                "access_token": token,
                "refresh_token": AmazonTestMixin.REFRESH_TOKEN,
                "token_type": "bearer",
                "expires_in": 3600,
            },
            {},
        )

    def expire_tokens(self):
        self.valid_tokens.clear()

    def authorised(self, recorded, token=None):
        return recorded.headers.get("x-amz-access-token") in (
            {token} if token else self.valid_tokens
        )

    @staticmethod
    def unauthorised():
        return (
            403,
            {
                "errors": [
                    {
                        "code": "Unauthorized",
                        "message": "Access to requested resource is denied.",
                        "details": "The access token you provided has expired.",
                    }
                ]
            },
            {},
        )

    def _rdt(self, recorded):
        if not self.authorised(recorded):
            return self.unauthorised()
        return (
            200,
            {"restrictedDataToken": "Atz.sprdt|restricted-1", "expiresIn": 3600},
            {"x-amzn-RateLimit-Limit": "1.0"},
        )

    def add_order(self, order, items=None):
        """Serve the items and the address of ``order``."""
        order_id = order["AmazonOrderId"]
        answer = fixture("order_items.json")
        answer["payload"]["AmazonOrderId"] = order_id
        if items is not None:
            answer["payload"]["OrderItems"] = items
        self.items[order_id] = answer
        self.server.route(
            "GET", f"{ORDERS}/{order_id}/orderItems", self._answer(answer, "0.5")
        )
        self.server.route(
            "GET", f"{ORDERS}/{order_id}", self._answer({"payload": order}, "0.5")
        )
        self.server.route(
            "POST",
            f"{ORDERS}/{order_id}/shipmentConfirmation",
            lambda recorded: self._confirm(order_id, recorded),
        )
        address = fixture("order_address.json")
        address["payload"]["AmazonOrderId"] = order_id
        path = f"{ORDERS}/{order_id}/address"
        self.server.route("GET", path, self._restricted(address))

    def _confirm(self, order_id, recorded):
        """``confirmShipment``: 204, the items' shipped quantities counted;
        400 for an item or a quantity the order does not have."""
        if not self.authorised(recorded):
            return self.unauthorised()
        detail = recorded.json()["packageDetail"]
        items = {
            item["OrderItemId"]: item
            for item in self.items[order_id]["payload"]["OrderItems"]
        }
        for entry in detail["orderItems"]:
            item = items.get(entry["orderItemId"])
            if item is None or (
                item["QuantityShipped"] + entry["quantity"] > item["QuantityOrdered"]
            ):
                return (
                    400,
                    {
                        "errors": [
                            {
                                "code": "InvalidInput",
                                "message": "Invalid order item quantity.",
                            }
                        ]
                    },
                    {},
                )
        for entry in detail["orderItems"]:
            items[entry["orderItemId"]]["QuantityShipped"] += entry["quantity"]
        return 204, None, {"x-amzn-RateLimit-Limit": "2.0"}

    def _answer(self, body, rate):
        def handler(recorded):
            if not self.authorised(recorded):
                return self.unauthorised()
            return 200, body, {"x-amzn-RateLimit-Limit": rate}

        return handler

    def _restricted(self, body):
        def handler(recorded):
            if not self.authorised(recorded, "Atz.sprdt|restricted-1"):
                return self.unauthorised()
            return 200, body, {"x-amzn-RateLimit-Limit": "0.5"}

        return handler

    def pages(self, *pages):
        """``getOrders`` answers: one page after the other, linked by
        ``NextToken``."""
        answers = [
            {
                "payload": {
                    "Orders": orders,
                    "LastUpdatedBefore": "2025-03-02T00:00:00Z",
                    **(
                        {"NextToken": f"page-{index + 2}"}
                        if index < len(pages) - 1
                        else {}
                    ),
                }
            }
            for index, orders in enumerate(pages)
        ]
        queue = list(answers)

        def handler(recorded):
            if not self.authorised(recorded):
                return self.unauthorised()
            return 200, queue.pop(0), {"x-amzn-RateLimit-Limit": "0.0167"}

        self.server.route("GET", ORDERS, handler)


class FakeFeeds:
    """The Feeds API 2021-06-30 of the Selling Partner API as its reference
    documents it: createFeedDocument (a presigned upload URL, here on the
    same server, which takes no access token), createFeed (202 with a feed
    id), getFeed (IN_QUEUE for the first ``queued`` polls, then DONE with
    its result document), getFeedDocument (a GZIP-compressed processing
    report behind a presigned URL). The report is ``report`` (by default
    ``listings_feed_processing_report.json``, which follows the JSON
    listings feed processing report schema v2: 2 of 5 messages rejected)."""

    def __init__(self, amazon, report=None, queued=1):
        self.amazon = amazon
        self.server = amazon.server
        self.report = report or fixture("listings_feed_processing_report.json")
        self.queued = queued
        self.uploads = []
        server = self.server
        server.route("POST", f"{FEEDS}/documents", self._create_document)
        server.route("PUT", "/upload/feed-doc-1", self._upload)
        server.route("POST", f"{FEEDS}/feeds", self._create_feed)
        server.route("GET", f"{FEEDS}/feeds/{FEED_ID}", self._get_feed)
        server.route("GET", f"{FEEDS}/documents/result-doc-1", self._get_document)

    def _guarded(self, recorded, answer):
        if not self.amazon.authorised(recorded):
            return self.amazon.unauthorised()
        return answer

    def _create_document(self, recorded):
        return self._guarded(
            recorded,
            (
                201,
                {
                    "feedDocumentId": "feed-doc-1",
                    "url": f"{self.server.url}/upload/feed-doc-1"
                    "?X-Amz-Signature=presigned",
                },
                {"x-amzn-RateLimit-Limit": "0.5"},
            ),
        )

    def _upload(self, recorded):
        # a presigned URL: the access token is not sent there
        if recorded.headers.get("x-amz-access-token"):
            return 400, {"error": "unexpected token"}, {}
        self.uploads.append(recorded)
        return 200, None, {}

    def _create_feed(self, recorded):
        return self._guarded(
            recorded, (202, {"feedId": FEED_ID}, {"x-amzn-RateLimit-Limit": "0.0083"})
        )

    def _get_feed(self, recorded):
        status = {
            "feedId": FEED_ID,
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [MARKETPLACE],
            "createdTime": "2025-03-01T10:00:00Z",
            "processingStatus": "IN_QUEUE",
        }
        if self.queued > 0:
            self.queued -= 1
        else:
            status.update(
                processingStatus="DONE",
                processingStartTime="2025-03-01T10:01:00Z",
                processingEndTime="2025-03-01T10:03:00Z",
                resultFeedDocumentId="result-doc-1",
            )
        return self._guarded(recorded, (200, status, {"x-amzn-RateLimit-Limit": "2"}))

    def _get_document(self, recorded):
        self.server.add(
            "GET",
            "/download/result-doc-1",
            body=gzip.compress(json.dumps(self.report).encode()),
            headers={"Content-Type": "application/octet-stream"},
        )
        return self._guarded(
            recorded,
            (
                200,
                {
                    "feedDocumentId": "result-doc-1",
                    "url": f"{self.server.url}/download/result-doc-1"
                    "?X-Amz-Signature=presigned",
                    "compressionAlgorithm": "GZIP",
                },
                {"x-amzn-RateLimit-Limit": "0.0222"},
            ),
        )


class AmazonTestMixin(OrderImportMixin):
    """An Amazon backend calling a ``FakeSellingPartner`` on 127.0.0.1; the
    client's waits are recorded in ``self.waits``, not slept."""

    CLIENT_ID = "amzn1.application-oa2-client.0123456789"
    CLIENT_SECRET = "amzn1.oa2-cs.v1.secret0123456789"
    REFRESH_TOKEN = "Atzr|refresh-0123456789"

    @classmethod
    def setUpAmazon(cls):
        if not issubclass(cls, HttpCase):
            # an HttpCase is in test mode already
            cls.registry_enter_test_mode_cls()
        cls.setUpOrderImport()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.currency = cls.env.ref("base.EUR")
        cls.currency.active = True
        cls.pricelist = cls.env["product.pricelist"].create(
            {"name": "Amazon DE", "currency_id": cls.currency.id}
        )
        cls.backend = cls.make_backend(
            "Amazon DE",
            adapter="amazon",
            api_base_url=cls.server.url,
            allow_private_network=True,
            api_key=cls.CLIENT_ID,
            api_secret=cls.CLIENT_SECRET,
            amazon_refresh_token=cls.REFRESH_TOKEN,
            amazon_lwa_url=cls.server.url + LWA,
            amazon_marketplace_line_ids=[
                (0, 0, {"marketplace_id": MARKETPLACE, "fulfillment_channel": "mfn"})
            ],
            amazon_seller_id="A2EXAMPLESELLER",
            rate_limit_per_second=0,
            http_read_timeout=2,
            order_pull_enabled=True,
            auto_confirm=True,
            pricelist_id=cls.pricelist.id,
        )

    def setUp(self):
        super().setUp()
        self.server.requests.clear()
        self.server.scripts.clear()
        self.server.handlers.clear()
        self.amazon = FakeSellingPartner(self.server)
        # each test starts without a token or a learned rate
        amazon_api._access_tokens.clear()
        amazon_api._operation_pace.clear()
        self.waits = []
        waits = self.waits
        self.patch(BackendHttpClient, "backoff", 0)
        self.patch(
            AmazonAdapter,
            "http_client",
            lambda adapter: amazon_api.AmazonHttpClient(
                adapter.backend, sleep=waits.append
            ),
        )
        self.adapter = self.backend._get_adapter()

    def perform(self, trap):
        """Run the trapped jobs, then process the inbox as the dispatcher
        would."""
        for job in sorted(trap.enqueued_jobs, key=attrgetter("priority")):
            job.perform()
        trap.enqueued_jobs.clear()
        waiting = self.env["distribution.exchange"].search(
            [
                ("state", "=", "received"),
                ("direction", "=", "in"),
                ("backend_id", "=", self.backend.id),
            ],
            order="id",
        )
        for exchange in waiting:
            exchange.process()
