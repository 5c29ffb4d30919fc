"""Distribution Stock Publishing's sweep and export jobs, to a fake Shopify
through the Shopify adapter."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_stock_publish.tests.channel_common import (
    PublishChannelMixin,
)

from ..adapters.shopify import DEFAULT_API_VERSION
from .common import GRAPHQL_PATH, FakeInventory, FakeShopifyMixin, graphql_path

MUG_ITEM = "gid://shopify/InventoryItem/45000000000001"
PLATE_ITEM = "gid://shopify/InventoryItem/45000000000002"


@tagged("-at_install", "post_install")
class TestStockPublish(PublishChannelMixin, FakeShopifyMixin, TransactionCase):
    publish_warehouse = ("Shopify warehouse", "SHPW")
    publish_stock = {
        "mug": ("Shopify mug", "SHP-MUG", 30),
        "plate": ("Shopify plate", "SHP-PLATE", 5),
    }

    def setUp(self):
        super().setUp()
        self.inventory = FakeInventory({MUG_ITEM: 0, PLATE_ITEM: 0})
        self.server.route("POST", GRAPHQL_PATH, self.inventory)

    def test_sweep_publishes_to_shopify_and_records_what_it_confirmed(self):
        results = self.publish({self.mug: MUG_ITEM, self.plate: PLATE_ITEM})
        self.assertEqual(len(results), 1, results)
        self.assertEqual(self.inventory.levels, {MUG_ITEM: 30, PLATE_ITEM: 5})
        (sent,) = [c.json()["variables"]["input"] for c in self.graphql_calls()]
        self.assertTrue(sent["ignoreCompareQuantity"], "never published before")
        for product, qty in ((self.mug, 30), (self.plate, 5)):
            level = self.level(product)
            self.assertEqual((level.state, level.published_qty), ("clean", qty))
            self.assertTrue(level.published_at)

    def test_next_publication_compares_with_what_was_published(self):
        self.publish({self.mug: MUG_ITEM, self.plate: PLATE_ITEM})
        self.server.requests.clear()
        # two mugs leave the warehouse while Shopify's number was set to 25
        self.env["stock.quant"]._update_available_quantity(self.mug, self.location, -2)
        self.inventory.levels[MUG_ITEM] = 25
        self.Level._mark_products_dirty(self.mug.ids)
        self.Level._flush_dirty_marks()
        self.publish()
        sets = [
            c.json()["variables"]["input"]["quantities"]
            for c in self.graphql_calls()
            if "inventorySetQuantities" in c.json()["query"]
        ]
        # compared with what we published (refused: stale), then once more
        # with the number Shopify holds plus our change (25 - 2): the 5 units
        # Shopify sold that Odoo has not received yet stay sold
        self.assertEqual(
            [(q[0]["quantity"], q[0]["compareQuantity"]) for q in sets],
            [(28, 30), (23, 25)],
        )
        self.assertEqual(self.inventory.levels[MUG_ITEM], 23)
        mug = self.level(self.mug)
        self.assertEqual((mug.state, mug.published_qty), ("clean", 23))

    def test_level_without_inventory_item_is_in_error(self):
        self.publish({self.mug: MUG_ITEM})
        plate = self.level(self.plate)
        self.assertEqual(plate.state, "error")
        self.assertIn("gid://shopify/InventoryItem/", plate.error)
        self.assertEqual(self.inventory.levels[PLATE_ITEM], 0)
        self.assertEqual(self.level(self.mug).published_qty, 30)


@tagged("-at_install", "post_install")
class TestStockPublishChangeFrom(
    PublishChannelMixin, FakeShopifyMixin, TransactionCase
):
    """A backend on the default API version (2026-10) publishes with
    ``changeFromQuantity``, and converges after a sale on Shopify."""

    publish_warehouse = ("Shopify warehouse", "SHPW")
    publish_stock = {"mug": ("Shopify mug", "SHP-MUG", 30)}

    def setUp(self):
        super().setUp()
        self.backend.shopify_api_version = DEFAULT_API_VERSION
        self.inventory = FakeInventory({MUG_ITEM: 0})
        self.server.route("POST", graphql_path(DEFAULT_API_VERSION), self.inventory)

    def sent_quantities(self):
        return [
            c.json()["variables"]["input"]["quantities"][0]
            for c in self.graphql_calls()
            if "inventorySetQuantities" in c.json()["query"]
        ]

    def test_concurrent_sale_converges_to_shopify_number_plus_change(self):
        self.publish({self.mug: MUG_ITEM})
        (first,) = self.sent_quantities()
        self.assertEqual((first["quantity"], first["changeFromQuantity"]), (30, None))
        self.assertEqual(self.level(self.mug).published_qty, 30)
        self.server.requests.clear()
        # two mugs leave the warehouse while Shopify sold 5 (its orders have
        # not reached Odoo yet)
        self.env["stock.quant"]._update_available_quantity(self.mug, self.location, -2)
        self.inventory.levels[MUG_ITEM] = 25
        self.Level._mark_products_dirty(self.mug.ids)
        self.Level._flush_dirty_marks()
        self.publish()
        sent = self.sent_quantities()
        # refused as stale (Shopify holds 25, not 30), read back, then
        # Shopify's number plus our change, compared with 25
        self.assertEqual(
            [(q["quantity"], q["changeFromQuantity"]) for q in sent],
            [(28, 30), (23, 25)],
        )
        for quantity in sent:
            self.assertNotIn("compareQuantity", quantity)
        self.assertEqual(self.inventory.levels[MUG_ITEM], 23)
        mug = self.level(self.mug)
        self.assertEqual((mug.state, mug.published_qty), ("clean", 23))
        # once quiet, nothing more is sent
        self.server.requests.clear()
        self.publish()
        self.assertEqual(self.sent_quantities(), [])
