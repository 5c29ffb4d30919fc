import base64

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import (
    PermanentError,
    RateLimitedError,
    TransientError,
)
from odoo.addons.distribution_connector.tests.common import ChannelSetUpMixin

from .common import WooCommerceOutboundMixin

PRODUCTS_BATCH = "/wp-json/wc/v3/products/batch"


def item(ref, quantity, sku=None):
    return {
        "sku": sku or ref,
        "external_ref": ref,
        "quantity": quantity,
        "compare_quantity": None,
    }


@tagged("-at_install", "post_install")
class TestExportStock(ChannelSetUpMixin, WooCommerceOutboundMixin, TransactionCase):
    """Stock through the batch endpoints of a fake shop."""

    def batch_calls(self, path=PRODUCTS_BATCH):
        return self.server.calls("POST", path)

    def test_250_products_go_out_in_three_batches_of_at_most_100(self):
        items = [item(f"product:{n}", n % 7) for n in range(1, 251)]
        results = self.adapter.export_stock(items)
        calls = self.batch_calls()
        self.assertEqual([len(c.json()["update"]) for c in calls], [100, 100, 50])
        self.assertEqual(self.adapter.max_batch_size, 100)
        self.assertEqual(len(results), 250)
        self.assertEqual({r["status"] for r in results}, {"ok"})
        self.assertEqual(
            [r["actual_quantity"] for r in results], [n % 7 for n in range(1, 251)]
        )
        self.assertEqual(results[0]["sku"], "product:1")
        self.assertEqual(
            calls[0].json()["update"][0],
            {"id": 1, "manage_stock": True, "stock_quantity": 1},
        )
        self.assertEqual(self.shop.stock[250], 250 % 7)

    def test_calls_are_authenticated_with_the_consumer_key(self):
        self.adapter.export_stock([item("product:5", 3)])
        token = base64.b64encode(
            f"{self.CONSUMER_KEY}:{self.CONSUMER_SECRET}".encode()
        ).decode()
        call = self.batch_calls()[0]
        self.assertEqual(call.headers["authorization"], f"Basic {token}")
        self.assertEqual(call.headers["content-type"], "application/json")
        log = self.env["distribution.call.log"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual((log.topic, log.response_status), ("stock", 200))
        self.assertNotIn(self.CONSUMER_SECRET, repr(log.read()))

    def test_base_url_may_already_name_the_api(self):
        self.backend.api_base_url = self.server.url + "/wp-json/wc/v3/"
        self.adapter.export_stock([item("product:5", 3)])
        self.assertEqual(len(self.batch_calls()), 1)

    def test_variations_are_grouped_per_parent(self):
        for parent in (20, 30):
            self.shop.add_parent(parent)
        items = [
            item("variation:20:201", 1),
            item("product:10", 2),
            item("variation:30:301", 3),
            item("variation:20:202", 4),
        ]
        results = self.adapter.export_stock(items)
        self.assertEqual(
            [[u["id"] for u in c.json()["update"]] for c in self.batch_calls()], [[10]]
        )
        variations_20 = self.batch_calls("/wp-json/wc/v3/products/20/variations/batch")
        self.assertEqual(
            [[u["id"] for u in c.json()["update"]] for c in variations_20], [[201, 202]]
        )
        variations_30 = self.batch_calls("/wp-json/wc/v3/products/30/variations/batch")
        self.assertEqual(len(variations_30), 1)
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual(
            [(r["sku"], r["status"], r["actual_quantity"]) for r in results],
            [
                ("variation:20:201", "ok", 1),
                ("product:10", "ok", 2),
                ("variation:30:301", "ok", 3),
                ("variation:20:202", "ok", 4),
            ],
        )

    def test_per_item_error_is_reported_and_the_rest_goes_through(self):
        self.shop.unknown_ids.add(12)
        results = self.adapter.export_stock(
            [item("product:11", 1), item("product:12", 2), item("product:13", 3)]
        )
        self.assertEqual([r["status"] for r in results], ["ok", "error", "ok"])
        self.assertEqual(
            results[1]["message"], "Invalid ID. (woocommerce_rest_product_invalid_id)"
        )
        self.assertIsNone(results[1]["actual_quantity"])
        self.assertEqual(len(self.batch_calls()), 1)

    def test_quantity_the_shop_did_not_take_is_a_mismatch(self):
        # no compare-and-set: the answer's quantity is the confirmation
        self.server.add(
            "POST",
            PRODUCTS_BATCH,
            json_body={
                "update": [
                    {"id": 11, "manage_stock": True, "stock_quantity": 5},
                    {"id": 12, "manage_stock": False, "stock_quantity": None},
                ]
            },
        )
        results = self.adapter.export_stock(
            [item("product:11", 4), item("product:12", 4)]
        )
        self.assertEqual(
            (results[0]["status"], results[0]["actual_quantity"]), ("mismatch", 5)
        )
        self.assertIn("holds 5 where 4 was sent", results[0]["message"])
        self.assertEqual(results[1]["status"], "error")
        self.assertIn("stock management", results[1]["message"])

    def test_compare_quantity_is_not_sent_and_fractions_round_down(self):
        stock = item("product:11", 4.7)
        stock["compare_quantity"] = 9
        results = self.adapter.export_stock([stock])
        self.assertEqual(
            self.batch_calls()[0].json(),
            {"update": [{"id": 11, "manage_stock": True, "stock_quantity": 4}]},
        )
        self.assertEqual(
            (results[0]["status"], results[0]["actual_quantity"]), ("ok", 4)
        )

    def test_malformed_reference_is_an_error_without_a_call(self):
        results = self.adapter.export_stock(
            [
                item("MUG-BLUE", 1),
                item("variation:20", 1),
                item("product:x", 1),
                item("product:1", None),
            ]
        )
        self.assertEqual({r["status"] for r in results}, {"error"})
        self.assertIn("product:<id>", results[0]["message"])
        self.assertEqual(self.server.requests, [])

    def test_products_without_reference_are_found_by_sku(self):
        self.shop.catalog.update({"WOO-A": 501, "WOO-B": 502})
        results = self.adapter.export_stock(
            [
                item(None, 3, sku="WOO-A"),
                item(None, 4, sku="WOO-VARIANT"),
                item("product:9", 5),
                item(None, 6, sku="WOO-B"),
            ]
        )
        lookups = self.server.calls("GET", "/wp-json/wc/v3/products")
        self.assertEqual(len(lookups), 1)
        self.assertEqual(
            lookups[0].query,
            {"sku": ["WOO-A,WOO-B,WOO-VARIANT"], "per_page": ["100"]},
        )
        self.assertEqual(
            [u["id"] for u in self.batch_calls()[0].json()["update"]], [501, 9, 502]
        )
        self.assertEqual(
            [(r["sku"], r["status"]) for r in results],
            [("WOO-A", "ok"), ("WOO-VARIANT", "error"), ("product:9", "ok"),
             ("WOO-B", "ok")],
        )  # fmt: skip
        self.assertIn("variation:<parent id>:<id>", results[1]["message"])
        self.assertEqual(self.shop.stock, {501: 3, 9: 5, 502: 6})

    def test_sku_lookup_answer_must_be_a_list(self):
        self.server.add(
            "GET", "/wp-json/wc/v3/products", json_body={"code": "rest_no_route"}
        )
        error = self.failing(
            PermanentError, self.adapter.export_stock, [item(None, 1, sku="WOO-A")]
        )
        self.assertEqual(error.kind, "permanent")
        self.assertEqual(self.batch_calls(), [])

    def test_missing_credentials_is_a_configuration_error(self):
        backend = self.make_woo_backend(
            "No keys",
            api_base_url=self.server.url,
            allow_private_network=True,
            rate_limit_per_second=0,
        )
        error = self.failing(
            PermanentError, backend._get_adapter().export_stock, [item("product:1", 1)]
        )
        self.assertEqual(error.kind, "configuration")
        self.assertEqual(self.server.requests, [])

    def test_429_with_retry_after_waits_that_long_then_succeeds(self):
        self.server.add(
            "POST", PRODUCTS_BATCH, status=429, headers={"Retry-After": "2"}
        )
        results = self.adapter.export_stock([item("product:11", 4)])
        self.assertEqual(results[0]["status"], "ok")
        self.assertEqual(len(self.batch_calls()), 2)
        self.assertEqual(self.waits, [2.0])

    def test_long_retry_after_gives_the_job_back(self):
        self.server.add(
            "POST", PRODUCTS_BATCH, status=429, headers={"Retry-After": "120"}
        )
        error = self.failing(
            RateLimitedError, self.adapter.export_stock, [item("product:11", 4)]
        )
        self.assertEqual(error.retry_after, 120)
        self.assertEqual(len(self.batch_calls()), 1)
        self.assertEqual(self.waits, [])

    def test_server_error_then_success(self):
        self.server.add("POST", PRODUCTS_BATCH, status=502)
        results = self.adapter.export_stock([item("product:11", 4)])
        self.assertEqual(results[0]["status"], "ok")
        self.assertEqual(len(self.batch_calls()), 2)
        self.assertEqual(len(self.waits), 1)

    def test_client_error_is_permanent(self):
        self.server.add(
            "POST",
            PRODUCTS_BATCH,
            status=401,
            json_body={"code": "woocommerce_rest_cannot_edit", "message": "Sorry"},
        )
        error = self.failing(
            PermanentError, self.adapter.export_stock, [item("product:11", 4)]
        )
        self.assertIn("HTTP 401", error.message)
        self.assertEqual(len(self.batch_calls()), 1)

    def test_malformed_answers_are_permanent_errors(self):
        answers = [
            {"body": b"<html>maintenance</html>"},
            {"json_body": ["not", "an", "object"]},
            {"json_body": {"create": []}},
            {"json_body": {"update": ["x"]}},
            {"json_body": {"update": [{"id": 99, "stock_quantity": 4}]}},
        ]
        for answer in answers:
            self.server.add("POST", PRODUCTS_BATCH, **answer)
            error = self.failing(
                PermanentError, self.adapter.export_stock, [item("product:11", 4)]
            )
            self.assertEqual(error.kind, "permanent", answer)
        self.assertEqual(len(self.batch_calls()), len(answers))

    def test_fault_sequence_converges_without_duplicates_or_tight_loop(self):
        """429, then 500, then a timeout, then the shop recovers."""
        self.server.add(
            "POST", PRODUCTS_BATCH, status=429, headers={"Retry-After": "1"}
        )
        self.server.add("POST", PRODUCTS_BATCH, status=500)
        # the harness lifts HTTP timeouts to 10 s: one answer later than that
        self.server.add("POST", PRODUCTS_BATCH, json_body={"update": []}, delay=10.5)
        items = [item("product:11", 4), item("product:12", 0)]

        # first run of the job: three attempts, then the job is given back
        error = self.failing(TransientError, self.adapter.export_stock, items)
        self.assertNotIsInstance(error, RateLimitedError)
        self.assertIn("Timeout", error.message)
        self.assertEqual(len(self.batch_calls()), 3)
        # the Retry-After was honoured, then one backoff: no tight loop
        self.assertEqual(len(self.waits), 2)
        self.assertEqual(self.waits[0], 1.0)
        self.assertTrue(0 <= self.waits[1] <= 1.0)
        self.assertEqual(self.shop.stock, {})

        # the job's retry: the shop answers
        results = self.adapter.export_stock(items)
        self.assertEqual(
            [(r["status"], r["actual_quantity"]) for r in results],
            [("ok", 4), ("ok", 0)],
        )
        self.assertEqual(self.shop.stock, {11: 4, 12: 0})
        # one call after the three failed ones, none after success
        self.assertEqual(len(self.batch_calls()), 4)
        self.assertEqual(len(self.waits), 2)
        statuses = (
            self.env["distribution.call.log"]
            .search([("backend_id", "=", self.backend.id)], order="id")
            .mapped("response_status")
        )
        self.assertEqual(statuses, [429, 500, 0, 200])
