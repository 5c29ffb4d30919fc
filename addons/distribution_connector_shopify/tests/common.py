"""Shopify backends, signed deliveries and a fake Shopify for the tests."""

import copy
import json
import os

from odoo.addons.distribution_connector.tests.common import (
    DistributionTestMixin,
    FakeChannelMixin,
    json_fixtures,
)

from ..adapters.shopify import sign

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
API_VERSION = "2025-01"
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"
ORDERS_PATH = f"/admin/api/{API_VERSION}/orders.json"
LOCATION = "gid://shopify/Location/70000000001"


fixture = json_fixtures(FIXTURES)


def cost(available=1990.0, restore=100.0, requested=10, maximum=2000.0):
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": restore,
            },
        }
    }


class ShopifyTestMixin(DistributionTestMixin):
    @classmethod
    def setUpChannel(cls):
        cls.setUpDistribution()
        cls.backend = cls.make_shopify_backend("Shopify shop", secret=cls.secret)

    setUpShopify = setUpChannel
    secret = "shpss_client-secret-0123456789"

    @classmethod
    def make_shopify_backend(cls, name, secret=None, **vals):
        backend = cls.make_backend(name, secret=secret, **vals)
        backend.write(
            {
                "adapter": "shopify",
                "shopify_api_version": API_VERSION,
                "shopify_location_id": LOCATION,
            }
        )
        return backend

    @staticmethod
    def shopify_delivery(
        secret,
        payload,
        topic="orders/create",
        event_id=None,
        webhook_id=None,
        triggered_at=None,
    ):
        """(body bytes, headers) of a Shopify webhook delivery."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": sign(secret, body),
            "X-Shopify-Shop-Domain": "demo-pottery.myshopify.com",
            "X-Shopify-API-Version": API_VERSION,
        }
        if topic:
            headers["X-Shopify-Topic"] = topic
        if event_id:
            headers["X-Shopify-Event-Id"] = event_id
        if webhook_id:
            headers["X-Shopify-Webhook-Id"] = webhook_id
        if triggered_at:
            headers["X-Shopify-Triggered-At"] = triggered_at
        return body, headers

    @staticmethod
    def order_fixture(**overrides):
        payload = copy.deepcopy(fixture("orders_create.json"))
        payload.update(copy.deepcopy(overrides))
        return payload


class FakeShopifyMixin(FakeChannelMixin, ShopifyTestMixin):
    """A FakeServer playing Shopify's Admin API, clients that record waits."""

    def setUp(self):
        super().setUp()
        self.backend.write(
            self.fake_channel_vals(
                api_secret="shpat_access-token-0123456789", http_read_timeout=0.5
            )
        )

    def adapter(self):
        """The backend's adapter, its clients sleeping into ``self.waits``."""
        return self.recording_adapter()

    def graphql_calls(self):
        return self.server.calls("POST", GRAPHQL_PATH)


class FakeInventory:
    """Shopify's inventory at one location, behind the GraphQL endpoint:
    ``inventorySetQuantities`` with compare-and-set (a call is applied whole
    or not at all) and ``nodes`` reading the available quantities back."""

    def __init__(self, levels=None):
        self.levels = dict(levels or {})
        self.available = 1990.0
        self.restore = 100.0

    def __call__(self, recorded):
        body = recorded.json()
        if "inventorySetQuantities" in body["query"]:
            return self.set_quantities(body["variables"]["input"])
        if "nodes(ids:" in body["query"]:
            return self.read_levels(body["variables"])
        return 200, {"errors": [{"message": "unexpected query"}]}, {}

    def answer(self, data):
        return 200, {"data": data, "extensions": cost(self.available, self.restore)}, {}

    def set_quantities(self, data):
        quantities = data["quantities"]
        if len(quantities) > 250:
            return 200, {"errors": [{"message": "input array exceeds 250 items"}]}, {}
        errors = []
        for index, quantity in enumerate(quantities):
            current = self.levels.get(quantity["inventoryItemId"], 0)
            if data.get("ignoreCompareQuantity"):
                continue
            if "compareQuantity" not in quantity:
                code, field = "COMPARE_QUANTITY_REQUIRED", "compareQuantity"
            elif quantity["compareQuantity"] != current:
                code, field = "COMPARE_QUANTITY_STALE", "compareQuantity"
            else:
                continue
            errors.append(
                {
                    "code": code,
                    "field": ["input", "quantities", str(index), field],
                    "message": "The compareQuantity value does not match.",
                }
            )
        group = None
        if not errors:
            for quantity in quantities:
                self.levels[quantity["inventoryItemId"]] = quantity["quantity"]
            group = {"id": "gid://shopify/InventoryAdjustmentGroup/1"}
        return self.answer(
            {
                "inventorySetQuantities": {
                    "inventoryAdjustmentGroup": group,
                    "userErrors": errors,
                }
            }
        )

    def read_levels(self, variables):
        nodes = [
            {
                "id": item_id,
                "inventoryLevel": {
                    "quantities": [
                        {"name": "available", "quantity": self.levels.get(item_id, 0)}
                    ]
                },
            }
            for item_id in variables["ids"]
        ]
        return self.answer({"nodes": nodes})
