import base64
import hashlib
import hmac
from datetime import datetime

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.tests.common import FakeChannelMixin


@tagged("-at_install", "post_install")
class TestRestOutbound(FakeChannelMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpFakeChannel()
        cls.setUpDistribution()
        cls.wms = cls.make_backend(
            "3PL",
            **cls.fake_channel_vals(
                adapter="rest",
                kind="3pl",
                api_base_url=cls.server.url + "/v1",
                api_key="wms-user",
                api_secret="wms-password-987",
                rest_stock_path="inventory/levels",
            ),
        )

    def setUp(self):
        super().setUp()
        self.adapter = self.wms._get_adapter()

    def test_stock_export_with_basic_auth(self):
        self.wms.rest_auth = "basic"
        self.server.add(
            "POST",
            "/v1/inventory/levels",
            json_body={
                "results": [
                    {"sku": "A", "status": "ok", "actual_quantity": 5},
                    {"sku": "B", "status": "mismatch", "actual_quantity": 7},
                ]
            },
        )
        items = [
            {"sku": "A", "external_ref": None, "quantity": 5, "compare_quantity": 4},
            {"sku": "B", "external_ref": None, "quantity": 3, "compare_quantity": 2},
        ]
        results = self.adapter.export_stock(items)
        self.assertEqual([r["status"] for r in results], ["ok", "mismatch"])
        self.assertEqual(results[1]["actual_quantity"], 7)
        call = self.server.calls()[0]
        expected = base64.b64encode(b"wms-user:wms-password-987").decode()
        self.assertEqual(call.headers["authorization"], f"Basic {expected}")
        self.assertEqual(
            call.json()["items"][0], {"sku": "A", "quantity": 5, "compare_quantity": 4}
        )

    def test_hmac_authentication_signs_the_bytes_sent(self):
        self.wms.write(
            {
                "rest_auth": "hmac",
                "rest_auth_header": "X-Our-Signature",
                "rest_signature_encoding": "hex",
                "rest_signature_prefix": "sha256=",
            }
        )
        self.server.add("POST", "/v1/fulfillments", json_body={"external_id": "F-9"})
        shipment = {
            "order_external_id": "SO042",
            "tracking_number": "1Z999",
            "lines": [{"sku": "A", "quantity": 2}],
        }
        self.assertEqual(
            self.adapter.export_fulfillment(shipment), {"external_id": "F-9"}
        )
        call = self.server.calls()[0]
        expected = hmac.new(b"wms-password-987", call.body, hashlib.sha256).hexdigest()
        self.assertEqual(call.headers["x-our-signature"], f"sha256={expected}")
        self.assertNotIn("authorization", call.headers)
        self.assertEqual(call.json(), shipment)

    def test_bearer_is_the_default(self):
        self.server.add("POST", "/v1/fulfillments", json_body={"external_id": None})
        self.assertEqual(
            self.adapter.export_fulfillment({"order_external_id": "X", "lines": []}),
            {"external_id": None},
        )
        self.assertEqual(
            self.server.calls()[0].headers["authorization"], "Bearer wms-password-987"
        )

    def test_pull_follows_every_page_once(self):
        pages = {
            None: ([{"external_id": "1", "updated_at": "2025-01-01T00:00:00Z"}], "c2"),
            "c2": ([{"external_id": "2"}, {"external_id": "3"}], "c3"),
            "c3": ([{"external_id": "4"}], None),
        }

        def orders(request):
            cursor = request.query.get("cursor", [None])[0]
            self.assertEqual(request.query["updated_since"], ["2025-01-01T00:00:00Z"])
            found, next_cursor = pages[cursor]
            return 200, {"orders": found, "next_cursor": next_cursor}, {}

        self.server.route("GET", "/v1/orders", orders)
        pulled = list(self.adapter.pull_orders(datetime(2025, 1, 1)))
        self.assertEqual([p["external_ref"] for p in pulled], ["1", "2", "3", "4"])
        self.assertEqual(pulled[0]["event_id"], "pull:1:2025-01-01T00:00:00Z")
        self.assertEqual({p["topic"] for p in pulled}, {"order"})
        self.assertEqual(len(self.server.calls()), 3)

    def test_malformed_answers_are_refused(self):
        self.server.add("GET", "/v1/orders", json_body={"items": []})
        with self.assertRaisesRegex(PermanentError, "not \\{orders"):
            list(self.adapter.pull_orders(datetime(2025, 1, 1)))
        self.server.add(
            "POST", "/v1/inventory/levels", json_body={"results": [{"sku": "A"}]}
        )
        with self.assertRaisesRegex(PermanentError, "malformed"):
            self.adapter.export_stock(
                [
                    {
                        "sku": "A",
                        "external_ref": None,
                        "quantity": 1,
                        "compare_quantity": None,
                    }
                ]
            )
        self.server.add("POST", "/v1/fulfillments", json_body=["F-1"])
        with self.assertRaisesRegex(PermanentError, "external_id"):
            self.adapter.export_fulfillment({"order_external_id": "X", "lines": []})

    def test_a_cursor_that_loops_stops(self):
        self.server.route(
            "GET",
            "/v1/orders",
            lambda request: (200, {"orders": [], "next_cursor": "same"}, {}),
        )
        self.assertEqual(list(self.adapter.pull_orders(datetime(2025, 1, 1))), [])
        self.assertEqual(len(self.server.calls()), 2)
