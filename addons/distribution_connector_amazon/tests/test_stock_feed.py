"""Merchant-fulfilled stock as a JSON_LISTINGS_FEED: the feed follows the
JSON listings feed schema v2 (Feeds API 2021-06-30 use case guide), its
processing report the listings feed processing report schema v2
(``fixtures/listings_feed_processing_report.json``)."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError, TransientError
from odoo.addons.distribution_stock_publish.tests.channel_common import (
    PublishChannelMixin,
)
from odoo.addons.queue_job.tests.common import trap_jobs

from ..adapters import amazon_feeds
from .common import FEED_ID, FEEDS, MARKETPLACE, AmazonTestMixin, FakeFeeds

SKUS = ["MUG-1", "MUG-2", "MUG-3", "MUG-4", "MUG-5"]


def feed_exceptions(env, backend):
    return env["distribution.exception"].search(
        [
            ("backend_id", "=", backend.id),
            ("exchange_id.topic", "=", "JSON_LISTINGS_FEED"),
            ("state", "=", "open"),
        ],
        order="key",
    )


@tagged("-at_install", "post_install")
class TestStockFeed(AmazonTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()
        cls.backend.amazon_feed_threshold = 5

    def items(self, quantity=7.6):
        return [
            {"sku": sku, "external_ref": None, "quantity": quantity} for sku in SKUS
        ]

    def test_report_rejecting_two_of_five_skus(self):
        feeds = FakeFeeds(self.amazon)
        results = self.adapter.export_stock(self.items())
        self.assertEqual(
            [(r["sku"], r["status"], r["actual_quantity"]) for r in results],
            [
                ("MUG-1", "ok", 7),
                ("MUG-2", "error", None),
                ("MUG-3", "ok", 7),
                ("MUG-4", "error", None),
                ("MUG-5", "ok", 7),
            ],
        )
        self.assertIn("4000003", results[1]["message"])
        self.assertIn("90220", results[3]["message"])
        # the feed as the JSON listings feed schema wants it
        (upload,) = feeds.uploads
        self.assertEqual(
            upload.headers["content-type"], "application/json; charset=UTF-8"
        )
        feed = upload.json()
        self.assertEqual(feed["header"]["sellerId"], "A2EXAMPLESELLER")
        self.assertEqual(
            feed["messages"][0],
            {
                "messageId": 1,
                "sku": "MUG-1",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {"fulfillment_channel_code": "DEFAULT", "quantity": 7}
                        ],
                    }
                ],
            },
        )
        self.assertEqual([m["messageId"] for m in feed["messages"]], [1, 2, 3, 4, 5])
        (create,) = self.server.calls("POST", f"{FEEDS}/feeds")
        self.assertEqual(
            create.json(),
            {
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [MARKETPLACE],
                "inputFeedDocumentId": "feed-doc-1",
            },
        )
        # polled once more after IN_QUEUE, waiting in place
        self.assertEqual(len(self.server.calls("GET", f"{FEEDS}/feeds/{FEED_ID}")), 2)
        self.assertIn(amazon_feeds.FEED_POLL_WAIT, self.waits)
        # the feed and its report kept on an outbound exchange
        exchange = self.env["distribution.exchange"].search(
            [("backend_id", "=", self.backend.id), ("topic", "=", "JSON_LISTINGS_FEED")]
        )
        self.assertEqual(
            (exchange.direction, exchange.state, exchange.external_ref),
            ("out", "done", FEED_ID),
        )
        self.assertIn('"messagesAccepted": 3', exchange.response_body)
        # each rejected SKU is an exception, the accepted ones are not
        exceptions = feed_exceptions(self.env, self.backend)
        self.assertEqual(exceptions.mapped("key"), ["MUG-2", "MUG-4"])
        self.assertEqual(set(exceptions.mapped("type")), {"permanent"})
        # the presigned URLs' signatures are not in the call log
        paths = (
            self.env["distribution.call.log"]
            .sudo()
            .search([("backend_id", "=", self.backend.id)])
            .mapped("path")
        )
        self.assertIn("/upload/feed-doc-1", paths)
        self.assertFalse([path for path in paths if "Signature" in path])

    def test_a_later_feed_accepting_the_sku_resolves_its_exception(self):
        FakeFeeds(self.amazon)
        self.adapter.export_stock(self.items())
        self.server.handlers.clear()
        self.amazon = type(self.amazon)(self.server)
        FakeFeeds(self.amazon, report={"summary": {"messagesProcessed": 5}})
        results = self.adapter.export_stock(self.items(quantity=3))
        self.assertEqual({r["status"] for r in results}, {"ok"})
        self.assertFalse(feed_exceptions(self.env, self.backend))

    def test_feed_still_queued_is_polled_again_not_sent_twice(self):
        feeds = FakeFeeds(self.amazon, queued=amazon_feeds.FEED_POLLS)
        adapter = self.backend.with_context(
            distribution_stock_export_claim="job-1"
        )._get_adapter()
        # not assertRaises: its savepoint would undo what the feed committed
        try:
            adapter.export_stock(self.items())
            error = None
        except TransientError as err:
            error = err
        self.assertEqual(error.retry_after, amazon_feeds.FEED_RETRY_AFTER)
        # the job's retry: the same claim finds the feed and polls it
        results = adapter.export_stock(self.items())
        self.assertEqual([r["status"] for r in results].count("ok"), 3)
        self.assertEqual(len(feeds.uploads), 1)
        self.assertEqual(len(self.server.calls("POST", f"{FEEDS}/feeds")), 1)

    def test_nothing_published_to_fba_only_marketplaces(self):
        self.backend.amazon_marketplace_line_ids.fulfillment_channel = "afn"
        with self.assertRaises(PermanentError) as caught:
            self.adapter.export_stock(self.items())
        self.assertEqual(caught.exception.kind, "configuration")
        self.assertFalse(self.server.requests)

    def test_small_batch_goes_by_patch(self):
        self.backend.amazon_feed_threshold = 10
        for sku in SKUS:
            self.server.route(
                "PATCH",
                f"/listings/2021-08-01/items/A2EXAMPLESELLER/{sku}",
                lambda r, sku=sku: (
                    200,
                    {
                        "sku": sku,
                        "status": "ACCEPTED",
                        "submissionId": "s",
                        "issues": [],
                    },
                    {},
                ),
            )
        results = self.adapter.export_stock(self.items())
        self.assertEqual({r["status"] for r in results}, {"ok"})
        self.assertFalse(self.server.calls("POST", f"{FEEDS}/documents"))


@tagged("-at_install", "post_install")
class TestStockPublishByFeed(PublishChannelMixin, AmazonTestMixin, TransactionCase):
    """The publishing engine's sweep and export job against the local
    SP-API: stock levels -> one feed -> the quantities Amazon confirmed."""

    publish_warehouse = ("Amazon MFN warehouse", "AMZW")
    publish_stock = {
        f"mug{index}": (f"Amazon mug {index}", sku, 10 * index)
        for index, sku in enumerate(SKUS, start=1)
    }

    @classmethod
    def setUpChannel(cls):
        cls.setUpAmazon()
        cls.backend.amazon_feed_threshold = 5

    def test_levels_exported_by_feed_and_confirmed(self):
        feeds = FakeFeeds(self.amazon)
        results = self.publish()
        self.assertEqual(results, ["3 published, 2 failed"])
        sent = {
            m["sku"]: m["patches"][0]["value"][0]["quantity"]
            for m in feeds.uploads[0].json()["messages"]
        }
        self.assertEqual(
            sent, {"MUG-1": 10, "MUG-2": 20, "MUG-3": 30, "MUG-4": 40, "MUG-5": 50}
        )
        for attribute, qty in (("mug1", 10), ("mug3", 30), ("mug5", 50)):
            level = self.level(getattr(self, attribute))
            self.assertEqual((level.state, level.published_qty), ("clean", qty))
        for attribute in ("mug2", "mug4"):
            level = self.level(getattr(self, attribute))
            self.assertEqual(level.state, "error")
            self.assertFalse(level.published_at)
        exceptions = feed_exceptions(self.env, self.backend)
        self.assertEqual(exceptions.mapped("key"), ["MUG-2", "MUG-4"])
        self.assertEqual(
            exceptions.stock_level_id, self.level(self.mug2) | self.level(self.mug4)
        )
        # Retry publishes the level again (a new export of it)
        with trap_jobs() as trap:
            exceptions[0].action_retry()
        self.assertEqual(exceptions[0].state, "resolved")
        self.assertEqual(self.level(self.mug2).state, "exporting")
        self.assertEqual(len(trap.enqueued_jobs), 1)
