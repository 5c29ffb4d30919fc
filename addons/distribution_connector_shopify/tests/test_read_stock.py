"""The stock drift check reads Shopify's available quantities."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from .common import GRAPHQL_PATH, LOCATION, FakeInventory, FakeShopifyMixin


def item_gid(number):
    return f"gid://shopify/InventoryItem/{number}"


@tagged("-at_install", "post_install")
class TestReadStock(ChannelSetUpMixin, FakeShopifyMixin, TransactionCase):
    def test_available_quantities_at_the_location(self):
        inventory = FakeInventory({item_gid(1): 7, item_gid(2): 0})
        self.server.route("POST", GRAPHQL_PATH, inventory)
        items = [
            {"sku": "A", "external_ref": item_gid(1)},
            {"sku": "B", "external_ref": item_gid(2)},
            {"sku": "C", "external_ref": None},
        ]
        results = self.adapter().read_stock(items)
        self.assertEqual(
            results,
            [
                {"sku": "A", "quantity": 7},
                {"sku": "B", "quantity": 0},
                {"sku": "C", "quantity": None},
            ],
        )
        (call,) = self.graphql_calls()
        variables = call.json()["variables"]
        self.assertEqual(variables["ids"], [item_gid(1), item_gid(2)])
        self.assertEqual(variables["locationId"], LOCATION)

    def test_item_not_stocked_at_the_location_has_no_quantity(self):
        def shopify(recorded):
            nodes = [{"id": item_gid(3), "inventoryLevel": None}]
            return FakeInventory().answer({"nodes": nodes})

        self.server.route("POST", GRAPHQL_PATH, shopify)
        results = self.adapter().read_stock([{"sku": "D", "external_ref": item_gid(3)}])
        self.assertEqual(results, [{"sku": "D", "quantity": None}])
