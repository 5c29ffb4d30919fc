from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from .common import WooCommerceOutboundMixin

PRODUCTS = "/wp-json/wc/v3/products"


@tagged("-at_install", "post_install")
class TestReadStock(ChannelSetUpMixin, WooCommerceOutboundMixin, TransactionCase):
    """The stock drift check reads a fake shop's quantities by id."""

    def test_products_variations_and_skus_are_read_by_id(self):
        self.shop.stock.update({5: 7, 6: 0, 31: 4})
        self.shop.catalog["MUG-BLUE"] = 6
        self.shop.add_parent(30)
        items = [
            {"sku": "A", "external_ref": "product:5"},
            {"sku": "MUG-BLUE", "external_ref": None},
            {"sku": "V", "external_ref": "variation:30:31"},
            {"sku": "GONE", "external_ref": "product:99"},
            {"sku": "BAD", "external_ref": "nonsense"},
        ]
        results = self.adapter.read_stock(items)
        self.assertEqual(
            results,
            [
                {"sku": "A", "quantity": 7},
                {"sku": "MUG-BLUE", "quantity": 0},
                {"sku": "V", "quantity": 4},
                {"sku": "GONE", "quantity": None},
                {"sku": "BAD", "quantity": None},
            ],
        )
        by_id = [
            call.query
            for call in self.server.calls("GET", PRODUCTS)
            if "include" in call.query
        ]
        self.assertEqual(by_id, [{"include": ["5,6,99"], "per_page": ["100"]}])
        (variations,) = self.server.calls("GET", f"{PRODUCTS}/30/variations")
        self.assertEqual(variations.query["include"], ["31"])

    def test_an_answer_that_is_not_a_list_is_permanent(self):
        self.server.add("GET", PRODUCTS, json_body={"code": "oops"})
        with self.assertRaises(PermanentError):
            self.adapter.read_stock([{"sku": "A", "external_ref": "product:5"}])
