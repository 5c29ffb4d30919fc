"""Stock export against a FakeServer playing Shopify's GraphQL Admin API."""

import json
import time

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import (
    PermanentError,
    RateLimitedError,
    TransientError,
)
from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from ..adapters.shopify import DEFAULT_API_VERSION
from .common import (
    GRAPHQL_PATH,
    LOCATION,
    FakeInventory,
    FakeShopifyMixin,
    cost,
    fixture,
    graphql_path,
)


def item_gid(number):
    return f"gid://shopify/InventoryItem/{number}"


def stock_item(number, quantity, compare=None):
    return {
        "sku": f"SKU-{number}",
        "external_ref": item_gid(number),
        "quantity": quantity,
        "compare_quantity": compare,
    }


@tagged("-at_install", "post_install")
class TestStockExport(ChannelSetUpMixin, FakeShopifyMixin, TransactionCase):
    def serve(self, inventory):
        self.server.route("POST", GRAPHQL_PATH, inventory)
        return inventory

    def sent_inputs(self):
        return [
            call.json()["variables"]["input"]
            for call in self.graphql_calls()
            if "inventorySetQuantities" in call.json()["query"]
        ]

    def test_600_items_go_out_in_3_calls_of_at_most_250(self):
        inventory = self.serve(FakeInventory({item_gid(n): 5 for n in range(600)}))
        items = [stock_item(n, 7, compare=5) for n in range(600)]
        results = self.adapter().export_stock(items)
        sent = self.sent_inputs()
        self.assertEqual([len(i["quantities"]) for i in sent], [250, 250, 100])
        self.assertEqual([r["status"] for r in results], ["ok"] * 600)
        self.assertEqual({r["actual_quantity"] for r in results}, {7})
        self.assertEqual(results[599]["sku"], "SKU-599")
        self.assertEqual(set(inventory.levels.values()), {7})
        first = sent[0]
        self.assertEqual((first["name"], first["reason"]), ("available", "correction"))
        self.assertFalse(first["ignoreCompareQuantity"])
        self.assertEqual(
            first["quantities"][0],
            {
                "inventoryItemId": item_gid(0),
                "locationId": LOCATION,
                "quantity": 7,
                "compareQuantity": 5,
            },
        )
        call = self.graphql_calls()[0]
        self.assertEqual(
            call.headers["x-shopify-access-token"], "shpat_access-token-0123456789"
        )
        self.assertNotIn("authorization", call.headers)

    def test_never_published_items_skip_the_compare(self):
        inventory = self.serve(FakeInventory({item_gid(1): 3, item_gid(2): 9}))
        results = self.adapter().export_stock(
            [stock_item(1, 4, compare=3), stock_item(2, 6)]
        )
        self.assertEqual([r["status"] for r in results], ["ok", "ok"])
        compared, blind = self.sent_inputs()
        self.assertFalse(compared["ignoreCompareQuantity"])
        self.assertEqual(compared["quantities"][0]["compareQuantity"], 3)
        self.assertTrue(blind["ignoreCompareQuantity"])
        self.assertNotIn("compareQuantity", blind["quantities"][0])
        self.assertEqual(inventory.levels, {item_gid(1): 4, item_gid(2): 6})

    def test_stale_compare_is_a_mismatch_with_shopify_quantity(self):
        # someone sold one on Shopify since we published 5
        inventory = self.serve(
            FakeInventory({item_gid(1): 10, item_gid(2): 4, item_gid(3): 2})
        )
        results = self.adapter().export_stock(
            [
                stock_item(1, 8, compare=10),
                stock_item(2, 3, compare=5),
                stock_item(3, 1, compare=2),
            ]
        )
        self.assertEqual(
            [(r["status"], r["actual_quantity"]) for r in results],
            [("ok", 8), ("mismatch", 4), ("ok", 1)],
        )
        self.assertIn("is 4, not 5", results[1]["message"])
        # Shopify applied nothing of the refused call: the two others went again
        sets = self.sent_inputs()
        self.assertEqual([len(s["quantities"]) for s in sets], [3, 2])
        self.assertEqual(inventory.levels[item_gid(2)], 4, "never overwritten")
        self.assertEqual(len(self.graphql_calls()), 3, "set, read back, set")

    def test_documented_stale_answer_without_read_back_number(self):
        answer = fixture("graphql_inventory_set_quantities_stale.json")
        self.server.add("POST", GRAPHQL_PATH, json_body=answer)
        self.server.add("POST", GRAPHQL_PATH, status=500)
        self.server.add("POST", GRAPHQL_PATH, status=500)
        self.server.add("POST", GRAPHQL_PATH, status=500)
        self.serve(FakeInventory({item_gid(1): 1}))
        results = self.adapter().export_stock(
            [stock_item(1, 2, compare=1), stock_item(2, 5, compare=0)]
        )
        self.assertEqual(results[0]["status"], "ok")
        self.assertEqual(
            (results[1]["status"], results[1]["actual_quantity"]), ("mismatch", None)
        )
        self.assertIn("could not read", results[1]["message"])

    def test_item_without_inventory_item_is_an_error_and_not_sent(self):
        self.serve(FakeInventory())
        results = self.adapter().export_stock(
            [
                {"sku": "A", "external_ref": None, "quantity": 1},
                {"sku": "B", "external_ref": "123", "quantity": 2.5},
                {"sku": "C", "external_ref": "124", "quantity": 2},
            ]
        )
        self.assertEqual([r["status"] for r in results], ["error", "error", "ok"])
        (sent,) = self.sent_inputs()
        self.assertEqual(sent["quantities"][0]["inventoryItemId"], item_gid(124))

    def test_backend_without_location_is_a_configuration_error(self):
        self.backend.shopify_location_id = False
        error = self.failing(
            PermanentError, self.adapter().export_stock, [stock_item(1, 1)]
        )
        self.assertEqual(error.kind, "configuration")
        self.assertEqual(self.server.calls(), [])

    def test_throttled_is_rate_limited_with_retry_after(self):
        self.server.add(
            "POST", GRAPHQL_PATH, json_body=fixture("graphql_throttled.json")
        )
        error = self.failing(
            RateLimitedError, self.adapter().export_stock, [stock_item(1, 1, 0)]
        )
        # (752 requested - 100 available) / 50 restored a second
        self.assertEqual(error.retry_after, 14)
        self.assertEqual(len(self.graphql_calls()), 1)
        self.assertEqual(self.waits, [])

    def test_short_throttle_waits_once_then_sends_again(self):
        throttled = fixture("graphql_throttled.json")
        throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] = 600
        self.server.add("POST", GRAPHQL_PATH, json_body=throttled)
        self.serve(FakeInventory())
        results = self.adapter().export_stock([stock_item(1, 1)])
        self.assertEqual(results[0]["status"], "ok")
        self.assertEqual(len(self.graphql_calls()), 2)
        self.assertEqual(len(self.waits), 1)
        self.assertAlmostEqual(self.waits[0], (752 - 600) / 50, delta=0.2)

    def test_low_budget_paces_the_next_call(self):
        inventory = self.serve(FakeInventory())
        inventory.available, inventory.restore = 2.0, 1.0
        results = self.adapter().export_stock([stock_item(n, 1) for n in range(300)])
        self.assertEqual({r["status"] for r in results}, {"ok"})
        self.assertEqual(len(self.graphql_calls()), 2)
        # 10 points needed, 2 left, 1 point a second back: about 8 s
        self.assertEqual(len(self.waits), 1)
        self.assertAlmostEqual(self.waits[0], 8.0, delta=0.5)

    def test_exhausted_budget_postpones_the_job(self):
        inventory = self.serve(FakeInventory())
        inventory.available, inventory.restore = 0.0, 0.25
        error = self.failing(
            RateLimitedError,
            self.adapter().export_stock,
            [stock_item(n, 1) for n in range(300)],
        )
        self.assertAlmostEqual(error.retry_after, 40, delta=1)
        self.assertEqual(len(self.graphql_calls()), 1, "the second batch waits")
        self.assertEqual(self.waits, [])

    def test_batch_sent_again_after_a_failure_midway_is_all_ok(self):
        inventory = FakeInventory()
        calls = []

        def shopify(recorded):
            calls.append(recorded)
            if len(calls) == 2:
                return 429, {"errors": "Too many requests"}, {"Retry-After": "60"}
            return inventory(recorded)

        self.server.route("POST", GRAPHQL_PATH, shopify)
        error = self.failing(
            RateLimitedError,
            self.adapter().export_stock,
            [stock_item(n, 2) for n in range(300)],
        )
        self.assertEqual(error.retry_after, 60)
        self.assertEqual(len(inventory.levels), 250)
        # the job's retry sends the same 300 items, compared with the
        # quantity published before (none): the 250 Shopify took already
        # hold it, the 50 others are set now
        results = self.adapter().export_stock([stock_item(n, 2) for n in range(300)])
        self.assertEqual([r["status"] for r in results], ["ok"] * 300)
        self.assertEqual(len(inventory.levels), 300)

    def test_429_with_retry_after_is_waited_in_place(self):
        self.server.add("POST", GRAPHQL_PATH, status=429, headers={"Retry-After": "2"})
        self.serve(FakeInventory())
        results = self.adapter().export_stock([stock_item(1, 1)])
        self.assertEqual(results[0]["status"], "ok")
        self.assertEqual(self.waits, [2.0])
        self.assertEqual(len(self.graphql_calls()), 2)

    def test_long_retry_after_postpones(self):
        self.server.add(
            "POST", GRAPHQL_PATH, status=429, headers={"Retry-After": "120"}
        )
        error = self.failing(
            RateLimitedError, self.adapter().export_stock, [stock_item(1, 1)]
        )
        self.assertEqual(error.retry_after, 120)

    def test_server_error_then_success(self):
        self.server.add("POST", GRAPHQL_PATH, status=502)
        inventory = self.serve(FakeInventory())
        results = self.adapter().export_stock([stock_item(1, 3)])
        self.assertEqual(results[0]["status"], "ok")
        self.assertEqual(inventory.levels, {item_gid(1): 3})
        self.assertEqual(len(self.graphql_calls()), 2)
        self.assertEqual(len(self.waits), 1)

    def test_malformed_answers_are_permanent(self):
        malformed = [
            {"data": {"inventorySetQuantities": {"userErrors": "none"}}},
            {"data": {"somethingElse": {}}},
            {"data": None},
            ["not", "an", "object"],
            {
                "data": {"inventorySetQuantities": {"userErrors": []}},
                "extensions": cost(restore=0),
            },
        ]
        for answer in malformed:
            with self.subTest(answer=answer):
                self.server.scripts.clear()
                self.server.add("POST", GRAPHQL_PATH, json_body=answer)
                self.failing(
                    PermanentError, self.adapter().export_stock, [stock_item(1, 1)]
                )
        self.server.add("POST", GRAPHQL_PATH, body=b"<html>maintenance</html>")
        self.failing(PermanentError, self.adapter().export_stock, [stock_item(1, 1)])

    def test_graphql_errors_are_permanent(self):
        self.server.add(
            "POST",
            GRAPHQL_PATH,
            json_body={"errors": [{"message": "Access denied for inventory."}]},
        )
        error = self.failing(
            PermanentError, self.adapter().export_stock, [stock_item(1, 1)]
        )
        self.assertIn("Access denied", error.message)

    def test_refused_quantity_is_an_item_error(self):
        self.server.add(
            "POST",
            GRAPHQL_PATH,
            json_body={
                "data": {
                    "inventorySetQuantities": {
                        "inventoryAdjustmentGroup": None,
                        "userErrors": [
                            {
                                "code": "INVALID_LOCATION",
                                "field": ["input", "quantities", "0", "locationId"],
                                "message": "The specified location could not be found.",
                            }
                        ],
                    }
                }
            },
        )
        results = self.adapter().export_stock([stock_item(1, 1)])
        self.assertEqual(results[0]["status"], "error")
        self.assertIn("INVALID_LOCATION", results[0]["message"])
        self.assertEqual(len(self.graphql_calls()), 1, "nothing left to send")

    def test_error_about_the_whole_call_fails_the_export(self):
        self.server.add(
            "POST",
            GRAPHQL_PATH,
            json_body={
                "data": {
                    "inventorySetQuantities": {
                        "inventoryAdjustmentGroup": None,
                        "userErrors": [
                            {
                                "code": "INVALID_REASON",
                                "field": ["input", "reason"],
                                "message": "The specified reason is invalid.",
                            }
                        ],
                    }
                }
            },
        )
        error = self.failing(
            PermanentError, self.adapter().export_stock, [stock_item(1, 1)]
        )
        self.assertEqual((error.kind, error.key), ("configuration", "INVALID_REASON"))

    def test_fault_sequence_converges_without_duplicates(self):
        """429, then 500, then a timeout (after which Shopify had applied the
        change), then the job's next attempt: the quantity converges, no call
        follows the success and every retry waited."""
        inventory = FakeInventory({item_gid(1): 5})
        steps = []

        def shopify(recorded):
            steps.append(len(steps))
            if len(steps) == 1:
                return 429, {"errors": "Too many requests"}, {"Retry-After": "1"}
            if len(steps) == 2:
                return 500, {"errors": "Internal error"}, {}
            if len(steps) == 3:
                answer = inventory(recorded)  # applied...
                time.sleep(10.5)  # ...but the answer comes too late
                return answer
            return inventory(recorded)

        self.server.route("POST", GRAPHQL_PATH, shopify)
        items = [stock_item(1, 7, compare=5)]
        adapter = self.adapter()
        started = time.monotonic()
        error = self.failing(TransientError, adapter.export_stock, items)
        self.assertIn("Timeout", error.message)
        self.assertLess(time.monotonic() - started, 15, "one read timeout, no loop")
        self.assertEqual(len(self.graphql_calls()), 3)
        self.assertEqual(self.waits[0], 1.0, "the Retry-After")
        self.assertEqual(len(self.waits), 2, "a backoff after the 500, none after")
        self.assertLessEqual(self.waits[1], 1.0)

        # the job runs again with what we published last
        results = self.adapter().export_stock(items)
        self.assertEqual(
            [(r["status"], r["actual_quantity"]) for r in results], [("ok", 7)]
        )
        self.assertEqual(inventory.levels, {item_gid(1): 7})
        calls = self.graphql_calls()
        self.assertEqual(len(calls), 5, "stale compare, read back, done")
        self.assertIn("nodes(ids:", calls[-1].json()["query"])
        calls = self.env["distribution.call.log"].search(
            [("backend_id", "=", self.backend.id)], order="id"
        )
        self.assertEqual(calls.mapped("response_status"), [429, 500, 0, 200, 200])
        self.assertNotIn(
            "shpat_access-token-0123456789",
            json.dumps(calls.read(["request_body"])),
        )


@tagged("-at_install", "post_install")
class TestStockExportChangeFrom(ChannelSetUpMixin, FakeShopifyMixin, TransactionCase):
    """API 2026-01 and later: ``changeFromQuantity`` per quantity; and the
    older path while Shopify still serves it."""

    def setUp(self):
        super().setUp()
        self.backend.shopify_api_version = DEFAULT_API_VERSION

    def serve(self, inventory, version=DEFAULT_API_VERSION):
        self.server.route("POST", graphql_path(version), inventory)
        return inventory

    def sent_inputs(self):
        return [
            call.json()["variables"]["input"]
            for call in self.graphql_calls()
            if "inventorySetQuantities" in call.json()["query"]
        ]

    def test_default_version_is_2026_10(self):
        backend = self.env["distribution.backend"].create(
            {"name": "New shop", "adapter": "shopify"}
        )
        self.assertEqual(backend.shopify_api_version, "2026-10")
        self.assertEqual(backend._get_adapter().api_version, "2026-10")

    def test_change_from_quantity_in_one_call_null_when_never_published(self):
        inventory = self.serve(FakeInventory({item_gid(1): 3, item_gid(2): 9}))
        results = self.adapter().export_stock(
            [stock_item(1, 4, compare=3), stock_item(2, 6)]
        )
        self.assertEqual([r["status"] for r in results], ["ok", "ok"])
        (sent,) = self.sent_inputs()
        self.assertNotIn("ignoreCompareQuantity", sent)
        self.assertEqual(
            sent["quantities"],
            [
                {
                    "inventoryItemId": item_gid(1),
                    "locationId": LOCATION,
                    "quantity": 4,
                    "changeFromQuantity": 3,
                },
                {
                    "inventoryItemId": item_gid(2),
                    "locationId": LOCATION,
                    "quantity": 6,
                    "changeFromQuantity": None,
                },
            ],
        )
        self.assertEqual(inventory.levels, {item_gid(1): 4, item_gid(2): 6})

    def test_stale_change_from_is_a_mismatch_with_shopify_quantity(self):
        # one sold on Shopify since we published 5
        inventory = self.serve(
            FakeInventory({item_gid(1): 10, item_gid(2): 4, item_gid(3): 2})
        )
        results = self.adapter().export_stock(
            [
                stock_item(1, 8, compare=10),
                stock_item(2, 3, compare=5),
                stock_item(3, 1),
            ]
        )
        self.assertEqual(
            [(r["status"], r["actual_quantity"]) for r in results],
            [("ok", 8), ("mismatch", 4), ("ok", 1)],
        )
        self.assertIn("is 4, not 5", results[1]["message"])
        sets = self.sent_inputs()
        self.assertEqual(
            [[q["changeFromQuantity"] for q in s["quantities"]] for s in sets],
            [[10, 5, None], [10, None]],
        )
        self.assertEqual(inventory.levels[item_gid(2)], 4, "never overwritten")
        self.assertEqual(len(self.graphql_calls()), 3, "set, read back, set")

    def test_2026_04_refuses_compare_quantity(self):
        """A backend left on 2025-01 once Shopify serves its requests as
        2026-04 (it no longer supports 2025-01): the call is refused whole,
        nothing is set."""
        self.backend.shopify_api_version = "2025-01"
        inventory = self.serve(
            FakeInventory({item_gid(1): 3}, oldest_supported="2026-04"), "2025-01"
        )
        error = self.failing(
            PermanentError,
            self.adapter().export_stock,
            [stock_item(1, 4, compare=3)],
        )
        self.assertIn("compareQuantity (Field is not defined", error.message)
        self.assertEqual(inventory.levels, {item_gid(1): 3})

    def test_2026_04_and_later_take_change_from_quantity(self):
        for version in ("2026-04", "2027-01"):
            with self.subTest(version=version):
                self.backend.shopify_api_version = version
                inventory = self.serve(
                    FakeInventory({item_gid(1): 3, item_gid(2): 1}), version
                )
                results = self.adapter().export_stock(
                    [stock_item(1, 4, compare=3), stock_item(2, 0, compare=2)]
                )
                self.assertEqual(
                    [(r["status"], r["actual_quantity"]) for r in results],
                    [("ok", 4), ("mismatch", 1)],
                )
                self.assertEqual(inventory.levels, {item_gid(1): 4, item_gid(2): 1})

    def test_older_version_keeps_compare_quantity_while_served(self):
        """2025-01 requests that Shopify answers as 2026-01 (today) still
        compare with ``compareQuantity``, never-published items apart."""
        self.backend.shopify_api_version = "2025-01"
        inventory = self.serve(
            FakeInventory({item_gid(1): 3, item_gid(2): 9}, oldest_supported="2026-01"),
            "2025-01",
        )
        results = self.adapter().export_stock(
            [stock_item(1, 4, compare=3), stock_item(2, 6), stock_item(3, 1, 5)]
        )
        self.assertEqual(
            [(r["status"], r["actual_quantity"]) for r in results],
            [("ok", 4), ("ok", 6), ("mismatch", 0)],
        )
        compared, compared_again, blind = self.sent_inputs()
        self.assertFalse(compared["ignoreCompareQuantity"])
        self.assertEqual([q["compareQuantity"] for q in compared["quantities"]], [3, 5])
        self.assertEqual(len(compared_again["quantities"]), 1)
        self.assertTrue(blind["ignoreCompareQuantity"])
        for sent in (compared, blind):
            for quantity in sent["quantities"]:
                self.assertNotIn("changeFromQuantity", quantity)
        self.assertEqual(inventory.levels, {item_gid(1): 4, item_gid(2): 6})
