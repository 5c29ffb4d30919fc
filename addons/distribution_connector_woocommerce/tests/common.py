"""WooCommerce backends, signed deliveries and payload fixtures for tests."""

import json
import os

from odoo.addons.distribution_connector.tests.common import (
    DistributionTestMixin,
    FakeChannelMixin,
    json_fixtures,
)

from ..adapters.woocommerce import WooCommerceAdapter, WooCommerceHttpClient, sign

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


fixture = json_fixtures(FIXTURES)


class WooCommerceTestMixin(DistributionTestMixin):
    """A WooCommerce backend and the deliveries a shop would send it."""

    SECRET = "woo-secret-0123456789"

    @classmethod
    def setUpChannel(cls):
        cls.setUpDistribution()
        cls.backend = cls.make_woo_backend("Woo shop", secret=cls.SECRET)

    @classmethod
    def make_woo_backend(cls, name, secret=None, **vals):
        return cls.make_backend(
            name,
            secret=secret or cls.SECRET,
            adapter="woocommerce",
            **vals,
        )

    setUpWooCommerce = setUpChannel

    @staticmethod
    def woo_delivery(
        secret, payload, topic="order.created", delivery_id="d-1", webhook_id=7
    ):
        """(body bytes, headers) of a WooCommerce webhook delivery."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        resource, event = topic.split(".", 1)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.8.0 Hookshot (WordPress/6.8)",
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": sign(secret, body),
            "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        return body, headers


class FakeShop:
    """A WooCommerce shop played by a ``FakeServer``: product and variation
    stock, orders with their notes; answers the batch, order and note
    endpoints the way the REST API v3 does once the scripted faults are
    used up."""

    API = "/wp-json/wc/v3"

    def __init__(self, server):
        self.server = server
        self.stock = {}
        self.unknown_ids = set()
        #: SKU -> id of the simple products the shop lists
        self.catalog = {}
        self.orders = {}
        self.notes = {}
        server.route("POST", f"{self.API}/products/batch", self._batch)
        server.route("GET", f"{self.API}/products", self._products)

    def _products(self, recorded):
        if "include" in recorded.query:
            return self._listed_by_id(recorded)
        skus = recorded.query.get("sku", [""])[0].split(",")
        listed = []
        for sku in skus:
            if sku in self.catalog:
                product = fixture("product.json")
                product.update(id=self.catalog[sku], sku=sku)
                listed.append(product)
        headers = {"X-WP-Total": str(len(listed)), "X-WP-TotalPages": "1"}
        return 200, listed, headers

    def _listed_by_id(self, recorded):
        """Products (or variations) by ``include``: the ones with stock."""
        ids = [int(i) for i in recorded.query["include"][0].split(",")]
        listed = []
        for object_id in ids:
            if object_id in self.stock:
                product = fixture("product.json")
                product.update(
                    id=object_id,
                    manage_stock=True,
                    stock_quantity=self.stock[object_id],
                )
                listed.append(product)
        headers = {"X-WP-Total": str(len(listed)), "X-WP-TotalPages": "1"}
        return 200, listed, headers

    def add_parent(self, parent_id):
        """Serve the variations batch and list of ``parent_id``."""
        self.server.route(
            "POST", f"{self.API}/products/{parent_id}/variations/batch", self._batch
        )
        self.server.route(
            "GET", f"{self.API}/products/{parent_id}/variations", self._listed_by_id
        )

    def _batch(self, recorded):
        answers = []
        for update in recorded.json().get("update", []):
            object_id = update["id"]
            if object_id in self.unknown_ids:
                answers.append(
                    {
                        "id": object_id,
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                )
                continue
            self.stock[object_id] = update["stock_quantity"]
            product = fixture("product.json")
            product.update(
                id=object_id,
                manage_stock=update["manage_stock"],
                stock_quantity=self.stock[object_id],
            )
            answers.append(product)
        return 200, {"update": answers}, {}

    def add_order(self, order):
        order_id = order["id"]
        self.orders[order_id] = order
        self.notes.setdefault(order_id, [])
        path = f"{self.API}/orders/{order_id}"
        self.server.route("GET", path, lambda recorded: (200, order, {}))
        self.server.route("PUT", path, lambda recorded: self._update(order, recorded))
        self.server.route(
            "GET", f"{path}/notes", lambda recorded: (200, self.notes[order_id], {})
        )
        self.server.route(
            "POST", f"{path}/notes", lambda recorded: self._note(order_id, recorded)
        )

    @staticmethod
    def _update(order, recorded):
        order.update(recorded.json())
        return 200, order, {}

    def _note(self, order_id, recorded):
        data = recorded.json()
        note = {
            "id": 280 + len(self.notes[order_id]),
            "author": "system",
            "date_created": "2025-03-25T10:00:00",
            "date_created_gmt": "2025-03-25T13:00:00",
            "note": data["note"],
            "customer_note": data.get("customer_note", False),
        }
        self.notes[order_id].insert(0, note)
        return 201, note, {}


class WooCommerceOutboundMixin(FakeChannelMixin, WooCommerceTestMixin):
    """A backend that calls a fake shop on 127.0.0.1 through the shared HTTP
    client; the client's waits are recorded in ``self.waits``, not slept."""

    CONSUMER_KEY = "ck_0123456789abcdef"
    CONSUMER_SECRET = "cs_fedcba9876543210"

    def setUp(self):
        super().setUp()
        self.shop = FakeShop(self.server)
        self.backend.write(
            self.fake_channel_vals(
                api_key=self.CONSUMER_KEY,
                api_secret=self.CONSUMER_SECRET,
                http_read_timeout=0.5,
            )
        )
        waits = self.waits
        self.patch(
            WooCommerceAdapter,
            "http_client",
            lambda adapter: WooCommerceHttpClient(adapter.backend, sleep=waits.append),
        )
        self.adapter = self.backend._get_adapter()
