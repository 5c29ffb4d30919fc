"""Export of the changed levels to a real local HTTP server playing the
channel's stock endpoint (generic JSON adapter)."""

import json

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.adapters.generic_json import (
    GenericJsonAdapter,
)
from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.distribution_connector.tests.fake_server import FakeServer
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import DEFAULT_PRIORITY, Job
from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.distribution_stock_level_sweep import PUBLISH_PRIORITY
from .common import StockPublishMixin

TOKEN = "stock-token-0123456789"


def answer_all(status="ok", actual=None):
    """A stock endpoint answering ``status`` for every item."""

    def handler(recorded):
        results = [
            {
                "sku": item["sku"],
                "status": status,
                "actual_quantity": item["quantity"] if actual is None else actual,
            }
            for item in recorded.json()["items"]
        ]
        return 200, {"results": results}, {}

    return handler


@tagged("-at_install", "post_install")
class TestExport(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the HTTP client and the export log write through cursors of their own
        cls.registry_enter_test_mode_cls()
        cls.setUpStockPublish()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.cup = cls.make_product("PUB-CUP")
        cls.put(cls.mug, 30, cls.wh1)
        cls.put(cls.plate, 20, cls.wh1)
        cls.put(cls.cup, 10, cls.wh1)
        cls.channel, cls.rule = cls.make_channel("Stock channel")
        cls.channel.write(
            {
                "api_base_url": cls.server.url + "/api",
                "allow_private_network": True,
                "api_secret": TOKEN,
                "rate_limit_per_second": 0,
            }
        )

    def setUp(self):
        super().setUp()
        self.server.requests.clear()
        self.server.scripts.clear()
        self.server.route("POST", "/api/stock", answer_all())
        self.patch(BackendHttpClient, "backoff", 0)

    # -- helpers -----------------------------------------------------------------

    def publish(self):
        """A sweep, then the export jobs it enqueued, run directly."""
        with trap_jobs() as trap:
            self.Level.sweep()
            jobs = [j for j in trap.enqueued_jobs if j.method_name == "export_batch"]
            results = self.perform_exports(trap)
        return jobs, results

    @staticmethod
    def perform_exports(trap):
        return [
            job.perform()
            for job in trap.enqueued_jobs
            if job.method_name == "export_batch"
        ]

    def sent(self):
        """Items of every stock call, in order: [[item, ...], ...]."""
        return [
            call.json()["items"] for call in self.server.calls("POST", "/api/stock")
        ]

    def prepare_export(self, *levels):
        """Levels handed to an export job (state exporting), without running it."""
        with trap_jobs():
            self.Level._enqueue_exports(level_ids=[lv.id for lv in levels], force=True)
        return self.Level.browse([lv.id for lv in levels])

    def failing_export(self, levels):
        """The RetryableJobError of an export. Unlike ``assertRaises`` in Odoo
        tests, this keeps what the attempt logged through its own cursor."""
        try:
            levels.export_batch()
        except RetryableJobError as err:
            return err
        self.fail("RetryableJobError not raised")

    def exports_log(self):
        """The HTTP calls of the exports to the channel."""
        return self.env["distribution.call.log"].search(
            [("backend_id", "=", self.channel.id), ("topic", "=", "stock")],
            order="id",
        )

    def mark_published(self, level, qty):
        self.env.cr.execute(
            "UPDATE distribution_stock_level SET published_qty = %s, "
            "published_at = now(), differs = computed_qty <> %s WHERE id = %s",
            [qty, qty, level.id],
        )
        level.invalidate_recordset()

    # -- tests ---------------------------------------------------------------------

    def test_first_publish_sends_everything_then_only_changes(self):
        jobs, results = self.publish()
        self.assertEqual(len(jobs), 1)
        self.assertEqual(results, ["3 published, 0 failed"])
        sent = self.sent()
        self.assertEqual(
            sorted((i["sku"], i["quantity"], i["compare_quantity"]) for i in sent[0]),
            [("PUB-CUP", 10, None), ("PUB-MUG", 30, None), ("PUB-PLATE", 20, None)],
        )
        call = self.server.calls("POST", "/api/stock")[0]
        self.assertEqual(call.headers["authorization"], f"Bearer {TOKEN}")
        level = self.level(self.channel)
        self.assertEqual((level.published_qty, level.state), (30, "clean"))
        self.assertTrue(level.published_at)
        self.assertFalse(level.differs)
        # one mug leaves: the mug alone goes out, compared with what we sent
        self.put(self.mug, -1, self.wh1)
        self.flush_marks()
        self.server.requests.clear()
        jobs, _results = self.publish()
        self.assertEqual(len(jobs), 1)
        self.assertEqual(
            self.sent(),
            [[{"sku": "PUB-MUG", "quantity": 29, "compare_quantity": 30}]],
        )
        self.assertEqual(self.level(self.channel).published_qty, 29)
        # nothing changed: nothing goes out
        self.server.requests.clear()
        jobs, _results = self.publish()
        self.assertEqual((jobs, self.sent()), ([], []))

    def test_export_jobs_go_before_the_imports_queued(self):
        # the runner gives a free slot to the lower priority number first:
        # a burst of order imports does not hold back the stock it sells
        jobs, _results = self.publish()
        self.assertTrue(jobs)
        for job in jobs:
            self.assertEqual(job.priority, PUBLISH_PRIORITY)
            self.assertLess(job.priority, DEFAULT_PRIORITY)

    def test_batches_never_exceed_the_adapter_limit(self):
        self.patch(GenericJsonAdapter, "max_batch_size", 2)
        jobs, _results = self.publish()
        self.assertEqual(len(jobs), 2)
        self.assertEqual(sorted(len(items) for items in self.sent()), [1, 2])

    def test_each_call_is_logged_once(self):
        self.publish()
        log = self.exports_log()
        self.assertEqual(len(log), 1)
        self.assertEqual(
            (log.method, log.path, log.topic, log.state),
            ("POST", "/api/stock", "stock", "done"),
        )
        levels = self.Level.search([("backend_id", "=", self.channel.id)])
        self.assertEqual(
            log.origin,
            "distribution.stock.level," + ",".join(map(str, sorted(levels.ids))),
        )
        # a record of a call, not a message: the inbox never processes it
        self.assertFalse(
            self.env["distribution.exchange"].search(
                [("backend_id", "=", self.channel.id)]
            )
        )
        self.assertEqual(len(json.loads(log.request_body)["items"]), 3)
        results = json.loads(log.response_body)["results"]
        self.assertEqual({r["status"] for r in results}, {"ok"})
        self.assertNotIn(TOKEN, repr(log.read()))

    def test_published_quantity_only_for_confirmed_items(self):
        def refuse_the_cup(recorded):
            results = [
                {
                    "sku": item["sku"],
                    "status": "error" if item["sku"] == "PUB-CUP" else "ok",
                    "actual_quantity": None,
                    "message": "unknown SKU" if item["sku"] == "PUB-CUP" else "",
                }
                for item in recorded.json()["items"]
            ]
            return 200, {"results": results}, {}

        self.server.route("POST", "/api/stock", refuse_the_cup)
        _jobs, results = self.publish()
        self.assertEqual(results, ["2 published, 1 failed"])
        cup = self.level(self.channel, self.cup)
        self.assertEqual(cup.state, "error")
        self.assertEqual(cup.error, "unknown SKU")
        self.assertFalse(cup.published_at)
        self.assertEqual(self.level(self.channel).published_qty, 30)
        # the call itself succeeded; its answer says which SKU was refused
        log = self.exports_log()
        self.assertEqual(log.state, "done")
        self.assertIn("unknown SKU", log.response_body)

    def test_shadow_mode_exports_nothing(self):
        self.rule.shadow_mode = True
        jobs, _results = self.publish()
        self.assertEqual(jobs, [])
        self.assertEqual(self.sent(), [])
        level = self.level(self.channel)
        self.assertEqual((level.computed_qty, level.state), (30, "clean"))
        self.assertTrue(level.differs)
        # publish now does not bypass the shadow mode either
        with trap_jobs() as trap:
            level.action_publish_now()
        self.assertEqual(trap.enqueued_jobs, [])

    def test_paused_backend_exports_nothing(self):
        self.channel.paused = True
        jobs, _results = self.publish()
        self.assertEqual((jobs, self.sent()), ([], []))

    def test_compare_and_set_mismatch_sends_the_channel_number_plus_the_change(self):
        # the channel shows 31 where 33 was confirmed: it sold 2 that Odoo has
        # not received; Odoo's own number went from 33 to 30 meanwhile
        self.recompute()
        level = self.level(self.channel)
        self.mark_published(level, 33)
        self.server.add(
            "POST",
            "/api/stock",
            json_body={
                "results": [
                    {"sku": "PUB-MUG", "status": "mismatch", "actual_quantity": 31}
                ]
            },
        )
        levels = self.prepare_export(level)
        self.assertEqual(levels.export_batch(), "1 published, 0 failed")
        compares = [items[0]["compare_quantity"] for items in self.sent()]
        self.assertEqual(compares, [33, 31])
        # 31 - 3, not 30: the 2 units the channel sold stay sold
        self.assertEqual([items[0]["quantity"] for items in self.sent()], [30, 28])
        self.assertEqual((level.published_qty, level.state), (28, "clean"))
        # once the channel's order comes in, the basis meets the engine's 28
        self.assertEqual(level.basis_qty, 30)
        self.assertEqual(len(self.exports_log()), 2)

    def test_second_mismatch_puts_the_level_in_error(self):
        self.recompute()
        level = self.level(self.channel)
        self.server.route("POST", "/api/stock", answer_all("mismatch", actual=12))
        self.prepare_export(level).export_batch()
        self.assertEqual(len(self.sent()), 2)
        self.assertEqual(level.state, "error")
        self.assertIn("moved again (now 12)", level.error)
        self.assertFalse(level.published_at)

    def test_rate_limiting_retries_after_the_given_delay(self):
        self.recompute()
        level = self.level(self.channel)
        self.server.add(
            "POST", "/api/stock", status=429, headers={"Retry-After": "120"}
        )
        err = self.failing_export(self.prepare_export(level))
        self.assertEqual(err.seconds, 120)
        # nothing recorded on the level: the runner rolls the attempt back
        self.assertEqual(level.state, "exporting")
        self.assertFalse(level.error)
        log = self.exports_log()
        self.assertEqual((log.state, len(log)), ("error", 1))
        self.assertIn("429", log.error)

    def test_server_errors_are_transient(self):
        self.recompute()
        level = self.level(self.channel)
        self.server.route("POST", "/api/stock", lambda recorded: (500, {}, {}))
        err = self.failing_export(self.prepare_export(level))
        self.assertIsNone(err.seconds)  # the job function's retry pattern
        self.assertEqual(level.state, "exporting")

    def test_transient_failure_on_the_last_attempt_is_recorded(self):
        self.recompute()
        level = self.level(self.channel)
        self.server.route("POST", "/api/stock", lambda recorded: (500, {}, {}))
        levels = self.prepare_export(level)
        delayed = levels.with_delay(max_retries=1).export_batch()
        job = Job.load(self.env, delayed.uuid)
        job.set_started()
        job.store()
        result = job.perform()
        self.assertEqual(result, "failed: transient, retries exhausted")
        self.assertEqual(level.state, "error")
        self.assertIn("HTTP 500", level.error)

    def test_client_errors_are_permanent(self):
        self.recompute()
        level = self.level(self.channel)
        self.server.route(
            "POST", "/api/stock", lambda recorded: (400, {"error": "bad"}, {})
        )
        result = self.prepare_export(level).export_batch()
        self.assertEqual(result, "failed: permanent")
        self.assertEqual(level.state, "error")
        self.assertIn("HTTP 400", level.error)

    def test_malformed_answer_is_permanent(self):
        self.recompute()
        level = self.level(self.channel)
        self.server.route(
            "POST", "/api/stock", lambda recorded: (200, {"results": "yes"}, {})
        )
        result = self.prepare_export(level).export_batch()
        self.assertEqual(result, "failed: invalid_response")
        self.assertEqual(level.state, "error")

    def test_plain_http_is_refused_without_private_network(self):
        self.recompute()
        level = self.level(self.channel)
        self.channel.allow_private_network = False
        result = self.prepare_export(level).export_batch()
        self.assertEqual(result, "failed: configuration")
        self.assertIn("only https", level.error)
        self.assertEqual(self.sent(), [])

    def test_level_without_sku_is_in_error(self):
        self.cup.default_code = False
        self.recompute()
        cup = self.level(self.channel, self.cup)
        self.prepare_export(cup).export_batch()
        self.assertEqual(cup.state, "error")
        self.assertIn("SKU", cup.error)
        self.assertEqual(self.sent(), [])

    def test_export_job_checks_relevance_first(self):
        self.recompute()
        level = self.level(self.channel)
        self.assertEqual(
            level.export_batch(), "nothing to do: no level waits for export"
        )
        self.assertEqual(self.sent(), [])

    def test_recompute_now_and_publish_now_buttons(self):
        self.recompute()
        level = self.level(self.channel)
        self.put(self.mug, 5, self.wh1)
        with trap_jobs() as trap:
            action = level.action_recompute_now()
            self.assertEqual(level.computed_qty, 35)
            self.assertEqual(self.perform_exports(trap), ["1 published, 0 failed"])
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(level.published_qty, 35)
        # publish now sends even an unchanged number
        with trap_jobs() as trap:
            level.action_publish_now()
            self.assertEqual(self.perform_exports(trap), ["1 published, 0 failed"])
        self.assertEqual(self.sent()[-1][0]["compare_quantity"], 35)
