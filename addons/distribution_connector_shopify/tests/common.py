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
#: the version of the tests' backends unless a test says otherwise: one
#: before changeFromQuantity (``CHANGE_FROM_QUANTITY_SINCE``), whose calls
#: the tests of the older path check
API_VERSION = "2025-01"


def graphql_path(version):
    return f"/admin/api/{version}/graphql.json"


GRAPHQL_PATH = graphql_path(API_VERSION)
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
        return self.server.calls("POST", graphql_path(self.backend.shopify_api_version))


def api_version_of(path):
    """``2026-10`` of ``/admin/api/2026-10/graphql.json``."""
    return path.strip("/").split("/")[2]


def undefined_field(name, index=None):
    """GraphQL's answer to a variable with a field the version's schema does
    not define (a top-level error: nothing runs)."""
    if index is None:
        where, input_type = name, "InventorySetQuantitiesInput"
    else:
        where, input_type = f"quantities.{index}.{name}", "InventoryQuantityInput"
    return {
        "message": (
            "Variable $input of type InventorySetQuantitiesInput! was provided "
            f"invalid value for {where} (Field is not defined on {input_type})"
        ),
        "extensions": {"code": "INVALID_VARIABLE"},
    }


class FakeInventory:
    """Shopify's inventory at one location, behind the GraphQL endpoint:
    ``inventorySetQuantities`` with compare-and-swap (a call is applied whole
    or not at all) and ``nodes`` reading the available quantities back.

    The mutation follows the API version of the request's path: before
    2026-01 ``compareQuantity`` / ``ignoreCompareQuantity``; from 2026-01 a
    quantity's ``changeFromQuantity``, when given (null: no check), overrides
    them; from 2026-04 ``changeFromQuantity`` is required and the two others
    are no longer in the schema."""

    def __init__(self, levels=None, oldest_supported=None):
        self.levels = dict(levels or {})
        self.available = 1990.0
        self.restore = 100.0
        #: Shopify answers a request for a version it no longer supports as
        #: the oldest version it supports
        self.oldest_supported = oldest_supported

    def __call__(self, recorded):
        body = recorded.json()
        if "inventorySetQuantities" in body["query"]:
            version = api_version_of(recorded.path)
            if self.oldest_supported and version < self.oldest_supported:
                version = self.oldest_supported
            return self.set_quantities(body["variables"]["input"], version)
        if "nodes(ids:" in body["query"]:
            return self.read_levels(body["variables"])
        return 200, {"errors": [{"message": "unexpected query"}]}, {}

    def answer(self, data):
        return 200, {"data": data, "extensions": cost(self.available, self.restore)}, {}

    def set_quantities(self, data, version):
        quantities = data["quantities"]
        if len(quantities) > 250:
            return 200, {"errors": [{"message": "input array exceeds 250 items"}]}, {}
        undefined = self.undefined_fields(data, version)
        if undefined:
            return 200, {"errors": undefined}, {}
        errors = []
        for index, quantity in enumerate(quantities):
            error = self.refusal(data, quantity, version)
            if error:
                code, field, message = error
                errors.append(
                    {
                        "code": code,
                        "field": ["input", "quantities", str(index), field],
                        "message": message,
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

    @staticmethod
    def undefined_fields(data, version):
        errors = []
        if version < "2026-01":
            errors += [
                undefined_field("changeFromQuantity", index)
                for index, quantity in enumerate(data["quantities"])
                if "changeFromQuantity" in quantity
            ]
        elif version >= "2026-04":
            if "ignoreCompareQuantity" in data:
                errors.append(undefined_field("ignoreCompareQuantity"))
            errors += [
                undefined_field("compareQuantity", index)
                for index, quantity in enumerate(data["quantities"])
                if "compareQuantity" in quantity
            ]
        return errors

    def refusal(self, data, quantity, version):
        """(code, field, message) refusing one quantity, or None."""
        current = self.levels.get(quantity["inventoryItemId"], 0)
        if version >= "2026-01" and "changeFromQuantity" in quantity:
            expected = quantity["changeFromQuantity"]
            if expected is None or expected == current:
                return None
            return (
                "CHANGE_FROM_QUANTITY_STALE",
                "changeFromQuantity",
                "The changeFromQuantity value does not match persisted value.",
            )
        if version >= "2026-04":
            return (
                None,
                "changeFromQuantity",
                "changeFromQuantity must be given, null to skip the check.",
            )
        if data.get("ignoreCompareQuantity"):
            return None
        if "compareQuantity" not in quantity:
            return (
                "COMPARE_QUANTITY_REQUIRED",
                "compareQuantity",
                "The compareQuantity argument must be given to each quantity or "
                "ignored using ignoreCompareQuantity.",
            )
        if quantity["compareQuantity"] != current:
            return (
                "COMPARE_QUANTITY_STALE",
                "compareQuantity",
                "The compareQuantity value does not match persisted value.",
            )
        return None

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
