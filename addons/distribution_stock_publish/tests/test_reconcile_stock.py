"""Stock reconciliation: drift between what a channel shows and what it
confirmed, and the stale channel guard, against a real local HTTP server
playing the channel (generic JSON adapter)."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.distribution_connector.tests.fake_server import FakeServer
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import StockPublishMixin
from .test_export import answer_all


class ChannelMixin(StockPublishMixin):
    @classmethod
    def setUpChannel(cls):
        # the HTTP client and the export log write through cursors of their own
        cls.registry_enter_test_mode_cls()
        cls.setUpStockPublish()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.put(cls.mug, 30, cls.wh1)
        cls.put(cls.plate, 20, cls.wh1)
        cls.channel, cls.rule = cls.make_channel("Checked channel")
        cls.channel.write(
            {
                "api_base_url": cls.server.url + "/api",
                "allow_private_network": True,
                "rate_limit_per_second": 0,
            }
        )

    def setUp(self):
        super().setUp()
        self.server.requests.clear()
        self.server.scripts.clear()
        self.server.handlers.clear()
        self.server.route("POST", "/api/stock", answer_all())
        self.patch(BackendHttpClient, "backoff", 0)

    def publish(self):
        """A sweep and the export jobs it enqueued; the levels are published."""
        with trap_jobs() as trap:
            self.Level.sweep()
        for job in trap.enqueued_jobs:
            if job.method_name == "export_batch":
                job.perform()

    def channel_shows(self, quantities):
        """The channel's stock check answers these quantities by SKU."""

        def handler(recorded):
            return (
                200,
                {
                    "results": [
                        {"sku": item["sku"], "quantity": quantities.get(item["sku"])}
                        for item in recorded.json()["items"]
                    ]
                },
                {},
            )

        self.server.route("POST", "/api/stock/read", handler)


@tagged("-at_install", "post_install")
class TestStockDrift(ChannelMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannel()

    def check(self):
        with trap_jobs() as trap:
            result = self.channel._check_stock_drift()
        return result, trap

    def drifts(self):
        return self.env["distribution.exception"].search(
            [("backend_id", "=", self.channel.id), ("type", "=", "channel_drift")]
        )

    def test_no_drift_stores_what_the_channel_shows(self):
        self.publish()
        mug, plate = self.level(self.channel), self.level(self.channel, self.plate)
        self.assertEqual((mug.published_qty, plate.published_qty), (30, 20))
        self.channel_shows({"PUB-MUG": 30, "PUB-PLATE": 20})
        before = fields.Datetime.now()
        result, trap = self.check()
        self.assertEqual(result, "2 levels checked, 0 drifted: no drift")
        self.assertFalse(trap.enqueued_jobs)
        self.assertEqual((mug.channel_quantity, plate.channel_quantity), (30, 20))
        self.assertGreaterEqual(mug.channel_quantity_date, before)
        (call,) = self.server.calls("POST", "/api/stock/read")
        self.assertEqual(
            sorted(item["sku"] for item in call.json()["items"]),
            ["PUB-MUG", "PUB-PLATE"],
        )
        self.assertFalse(self.drifts())

    def test_drift_raises_an_exception_per_level(self):
        self.channel.stock_drift_policy = "exception"
        self.publish()
        self.channel_shows({"PUB-MUG": 27, "PUB-PLATE": 20})
        result, trap = self.check()
        self.assertEqual(result, "2 levels checked, 1 drifted: exceptions raised")
        self.assertFalse(trap.enqueued_jobs)
        mug = self.level(self.channel)
        self.assertEqual((mug.channel_quantity, mug.published_qty), (27, 30))
        drift = self.drifts()
        self.assertEqual(len(drift), 1)
        self.assertEqual(
            (drift.stock_level_id, drift.product_id, drift.key, drift.state),
            (mug, self.mug, "PUB-MUG", "open"),
        )
        self.assertIn("shows 27 of PUB-MUG", drift.message)
        # the check's exchange keeps what the channel reported
        self.assertEqual(drift.exchange_id.topic, "stock_check")
        self.assertIn('"channel": 27', drift.exchange_id.raw_body)
        # a second check updates the same exception
        self.check()
        self.assertEqual(self.drifts(), drift)
        self.assertEqual(drift.occurrences, 2)
        # retrying publishes ours again
        with trap_jobs() as trap:
            drift.action_retry()
        self.assertEqual(drift.state, "resolved")
        (job,) = trap.enqueued_jobs
        job.perform()
        sent = self.server.calls("POST", "/api/stock")[-1].json()["items"]
        self.assertEqual(
            sent, [{"sku": "PUB-MUG", "quantity": 30, "compare_quantity": 30}]
        )
        self.assertEqual(mug.state, "clean")

    def test_drift_settled_on_the_channel_resolves_the_exception(self):
        self.publish()
        self.channel_shows({"PUB-MUG": 27, "PUB-PLATE": 20})
        self.check()
        drift = self.drifts()
        self.assertEqual(drift.state, "open")
        self.channel_shows({"PUB-MUG": 30, "PUB-PLATE": 20})
        self.check()
        self.assertEqual(drift.state, "resolved")

    def test_drift_is_republished_under_the_republish_policy(self):
        self.channel.stock_drift_policy = "republish"
        self.publish()
        self.channel_shows({"PUB-MUG": 30, "PUB-PLATE": 12})
        result, trap = self.check()
        self.assertEqual(
            result, "2 levels checked, 1 drifted: 1 export jobs to publish ours again"
        )
        self.assertFalse(self.drifts())
        plate = self.level(self.channel, self.plate)
        self.assertEqual(plate.state, "exporting")
        (job,) = trap.enqueued_jobs
        self.assertEqual(job.method_name, "export_batch")
        self.server.requests.clear()
        job.perform()
        (call,) = self.server.calls("POST", "/api/stock")
        self.assertEqual(
            call.json()["items"],
            [{"sku": "PUB-PLATE", "quantity": 20, "compare_quantity": 20}],
        )
        self.assertEqual((plate.state, plate.published_qty), ("clean", 20))

    def test_item_unknown_to_the_channel_is_not_a_drift(self):
        self.publish()
        self.channel_shows({"PUB-MUG": 30})
        result, _trap = self.check()
        self.assertEqual(result, "2 levels checked, 0 drifted: no drift")
        self.assertEqual(self.level(self.channel, self.plate).channel_quantity, 0)

    def test_malformed_answer_is_reported_on_the_backend(self):
        self.publish()
        self.server.route(
            "POST", "/api/stock/read", lambda recorded: (200, {"oops": 1}, {})
        )
        result, _trap = self.check()
        self.assertEqual(result, "failed: invalid_response")
        self.assertIn(
            "Checking the channel's stock failed", self.channel.message_ids[0].body
        )

    def test_cron_checks_backends_whose_adapter_reads_stock(self):
        self.publish()
        self.channel_shows({"PUB-MUG": 30, "PUB-PLATE": 20})
        with trap_jobs():
            results = self.env["distribution.backend"]._cron_check_stock_drift()
        self.assertEqual(
            results[self.channel.id], "2 levels checked, 0 drifted: no drift"
        )

    def test_check_button_enqueues_a_reconcile_job(self):
        with trap_jobs() as trap:
            self.channel.action_check_stock_drift()
        (job,) = trap.enqueued_jobs
        self.assertEqual(job.method_name, "check_stock_drift_job")
        self.assertEqual(job.channel, "root.distribution.reconcile")


@tagged("-at_install", "post_install")
class TestStaleGuard(ChannelMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannel()
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Stale watcher",
                "login": "stale-watcher",
                "group_ids": [
                    (
                        4,
                        cls.env.ref(
                            "distribution_connector.group_distribution_manager"
                        ).id,
                    )
                ],
            }
        )
        cls.channel.write(
            {
                "stale_window_minutes": 60,
                "stale_policy": "reduce",
                "stale_reduce_percent": 50,
                "responsible_id": cls.manager.id,
            }
        )

    def activities(self):
        return self.channel.activity_ids.filtered(
            lambda act: (
                act.activity_type_id == self.env.ref("mail.mail_activity_data_warning")
            )
        )

    def test_stale_backend_is_flagged_reduced_and_recovers(self):
        self.publish()
        mug = self.level(self.channel)
        self.assertEqual(mug.published_qty, 30)
        self.assertEqual(self.channel._check_stale(), "alive")
        later = fields.Datetime.now() + timedelta(hours=2)
        with freeze_time(later), trap_jobs() as trap:
            results = self.env["distribution.backend"]._cron_check_stale()
        self.assertEqual(results[self.channel.id], "stale")
        self.assertTrue(self.channel.stale)
        self.assertEqual(self.channel.stale_since, later.replace(microsecond=0))
        activity = self.activities()
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn("stale", activity.summary)
        self.assertIn("Backend stale", self.channel.message_ids[0].body)
        # its levels are dirty and the sweep publishes half
        self.assertEqual(mug.state, "dirty")
        self.assertTrue(
            [job for job in trap.enqueued_jobs if job.method_name == "sweep"]
        )
        self.publish()
        self.assertEqual((mug.computed_qty, mug.published_qty), (15, 15))
        self.assertEqual(
            mug.explanation[-1], {"step": "stale", "qty": 15, "percent": 50}
        )
        self.assertIn("Channel stale", mug.explanation_html)
        plate = self.level(self.channel, self.plate)
        self.assertEqual(plate.published_qty, 10)
        # still stale a while later: nothing new
        with freeze_time(later + timedelta(minutes=5)):
            self.assertEqual(self.channel._check_stale(), "stale")
        self.assertEqual(len(self.activities()), 1)
        # the channel is heard from again (an inbound event)
        self.env["distribution.exchange"].create(
            {
                "backend_id": self.channel.id,
                "topic": "order",
                "external_event_id": "alive-again",
                "received_at": later + timedelta(minutes=10),
            }
        )
        with freeze_time(later + timedelta(minutes=15)), trap_jobs():
            self.assertEqual(self.channel._check_stale(), "recovered")
        self.assertFalse(self.channel.stale)
        self.assertFalse(self.activities())
        self.assertIn("Backend recovered", self.channel.message_ids[0].body)
        self.assertEqual(mug.state, "dirty")
        self.publish()
        self.assertEqual((mug.computed_qty, mug.published_qty), (30, 30))
        self.assertNotIn("stale", [step["step"] for step in mug.explanation])
        self.assertEqual(plate.published_qty, 20)

    def test_alert_policy_leaves_quantities_alone(self):
        self.channel.stale_policy = "alert"
        self.publish()
        mug = self.level(self.channel)
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)), trap_jobs():
            self.assertEqual(self.channel._check_stale(), "stale")
        self.assertTrue(self.activities())
        self.publish()
        self.assertEqual(mug.published_qty, 30)
        self.assertNotIn("stale", [step["step"] for step in mug.explanation])

    def test_zero_percent_publishes_zero(self):
        self.channel.stale_reduce_percent = 0
        self.publish()
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)), trap_jobs():
            self.channel._check_stale()
        self.publish()
        self.assertEqual(self.level(self.channel).published_qty, 0)

    def test_an_acknowledged_stock_push_is_a_sign_of_life(self):
        self.publish()
        self.env.cr.execute(
            "UPDATE distribution_stock_level SET published_at = %s "
            "WHERE backend_id = %s",
            [fields.Datetime.now() + timedelta(hours=2), self.channel.id],
        )
        with freeze_time(fields.Datetime.now() + timedelta(hours=2, minutes=30)):
            self.assertEqual(self.channel._check_stale(), "alive")

    def test_managers_are_alerted_without_a_responsible(self):
        self.channel.responsible_id = False
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)), trap_jobs():
            self.channel._check_stale()
        self.assertIn(self.manager, self.activities().user_id)
