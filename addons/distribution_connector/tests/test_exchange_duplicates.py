from odoo.tests.common import HttpCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import DistributionTestMixin

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
            trap.assert_jobs_count(1)
        self.assertEqual(
            [answer["status"] for answer in answers],
            ["accepted", "duplicate", "duplicate"],
        )
        exchange = self.Exchange.browse(answers[0]["exchange_id"])
        self.assertEqual(exchange.duplicate_count, 2)
