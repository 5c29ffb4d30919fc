from odoo.tests.common import HttpCase, TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import DistributionTestMixin, commit_backend, committed_env

ORDER = {"external_id": "2001", "currency": "EUR", "lines": []}


@tagged("-at_install", "post_install")
class TestExchangeDuplicates(DistributionTestMixin, HttpCase):
    """A repeated delivery leaves a trace: the count of the exchange it
    collapsed into, for the dashboards."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.secret = "secret-of-Test channel-0123456789"
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def _insert(self, event_id, topic="order"):
        return self.Exchange._insert_inbound(
            self.backend, topic, "order", event_id, "1", b"{}", "application/json", {}
        )

    def test_insert_counts_duplicates(self):
        exchange, created = self._insert("evt-a")
        self.assertTrue(created)
        self.assertEqual(exchange.duplicate_count, 0)
        for expected in (1, 2, 3):
            again, created = self._insert("evt-a")
            self.assertFalse(created)
            self.assertEqual(again, exchange)
            self.assertEqual(again.duplicate_count, expected)
        other, created = self._insert("evt-b")
        self.assertTrue(created)
        self.assertEqual(other.duplicate_count, 0)
        # the same event id on another topic is another event
        _third, created = self._insert("evt-a", topic="order_cancellation")
        self.assertTrue(created)
        self.assertEqual(exchange.duplicate_count, 3)

    def test_webhook_redeliveries_are_counted(self):
        body, headers = self.signed(self.secret, ORDER, event_id="evt-dup-count")
        path = self.webhook_path(self.backend)
        with trap_jobs() as trap:
            answers = [
                self.url_open(path, data=body, headers=headers).json()
                for _attempt in range(3)
            ]
            # the exchange's one dispatcher wake-up
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
        self.assertEqual(
            [answer["status"] for answer in answers],
            ["accepted", "duplicate", "duplicate"],
        )
        exchange = self.Exchange.browse(answers[0]["exchange_id"])
        self.assertEqual(exchange.duplicate_count, 2)


@tagged("-at_install", "post_install")
class TestDuplicateDuringProcessing(DistributionTestMixin, TransactionCase):
    """A redelivery never waits for the job processing its exchange."""

    def test_redelivery_of_an_exchange_being_processed_answers_at_once(self):
        self.setUpDistribution()
        registry = self.registry
        backend_id = commit_backend(self, "Busy backend")
        args = ("order", "order", "busy-evt", "1", b"{}", "application/json", {})
        with committed_env(registry) as env:
            exchange, _created = env["distribution.exchange"]._insert_inbound(
                env["distribution.backend"].browse(backend_id), *args
            )
            exchange_id = exchange.id
        with committed_env(registry) as job_env:
            # the processing job holds the exchange's row
            job_env.cr.execute(
                "UPDATE distribution_exchange SET state = 'processing' WHERE id = %s",
                [exchange_id],
            )
            with committed_env(registry) as webhook_env:
                webhook_env.cr.execute("SET LOCAL lock_timeout = '2s'")
                again, created = webhook_env["distribution.exchange"]._insert_inbound(
                    webhook_env["distribution.backend"].browse(backend_id), *args
                )
                self.assertEqual((again.id, created), (exchange_id, False))
                # not counted: counting is not worth a wait
                self.assertEqual(again.duplicate_count, 0)
            job_env.cr.rollback()
        with committed_env(registry) as webhook_env:
            again, created = webhook_env["distribution.exchange"]._insert_inbound(
                webhook_env["distribution.backend"].browse(backend_id), *args
            )
            self.assertEqual(again.duplicate_count, 1)
