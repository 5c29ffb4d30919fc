import json
import threading
import time

import psycopg2

from odoo.tests.common import TransactionCase, tagged
from odoo.tools import SQL, mute_logger, sql

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..errors import PermanentError, RateLimitedError, TransientError
from ..hooks import uninstall_hook
from ..models.distribution_exchange import SUPERSEDED_FIELD_INDEXES
from .common import DistributionTestMixin, committed_env


class TestExchange(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def _insert(self, event_id="evt-1", body=b'{"external_id": "1"}', topic="order"):
        return self.Exchange._insert_inbound(
            self.backend, topic, "order", event_id, "1", body, "application/json", {}
        )

    def test_uninstall_drops_the_insert_function(self):
        def function_exists():
            self.env.cr.execute(
                "SELECT 1 FROM pg_proc WHERE proname = %s",
                ["distribution_exchange_insert_inbound"],
            )
            return bool(self.env.cr.fetchall())

        self.assertTrue(function_exists())
        with self.env.cr.savepoint(flush=False) as savepoint:
            uninstall_hook(self.env)
            self.assertFalse(function_exists())
            savepoint.rollback()
        self.assertTrue(function_exists())

    def test_exchanges_of_a_record_are_read_through_the_result_index(self):
        cr, table = self.env.cr, self.Exchange._table
        result_index = self.Exchange._result_idx.full_name(self.Exchange)
        self.assertTrue(sql.index_exists(cr, result_index))
        for name in SUPERSEDED_FIELD_INDEXES:
            self.assertFalse(sql.index_exists(cr, sql.make_index_name(table, name)))

        partner = self.env.user.partner_id
        exchange, __ = self._insert()
        exchange.write({"res_model": partner._name, "res_id": partner.id})
        domain = [("res_model", "=", partner._name), ("res_id", "=", partner.id)]
        query = self.Exchange._search(domain)
        # a few rows make a sequential scan cheaper: forbid it to see which
        # index the planner would use on a large log
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.addCleanup(self.env.cr.execute, "RESET enable_seqscan")
        self.env.cr.execute(SQL("EXPLAIN %s", query.select()))
        plan = "\n".join(row for (row,) in self.env.cr.fetchall())
        self.assertIn(result_index, plan)
        self.assertEqual(self.Exchange.search(domain), exchange)

    def test_insert_or_ignore(self):
        first, created = self._insert()
        again, created_again = self._insert()
        self.assertTrue(created)
        self.assertFalse(created_again)
        self.assertEqual(first, again)
        self.assertEqual(
            self.Exchange.search_count([("backend_id", "=", self.backend.id)]), 1
        )
        other, created_other = self._insert(event_id="evt-2")
        self.assertTrue(created_other)
        self.assertNotEqual(other, first)

    def test_unique_constraint_in_database(self):
        self._insert()
        self.env.flush_all()
        with (
            self.assertRaises(psycopg2.errors.UniqueViolation),
            self.env.cr.savepoint(),
            mute_logger("odoo.sql_db"),
        ):
            self.env.cr.execute(
                "INSERT INTO distribution_exchange (backend_id, direction, topic, "
                "external_event_id, correlation_id, received_at, state) "
                "SELECT backend_id, direction, topic, external_event_id, 'x', now(), "
                "'received' "
                "FROM distribution_exchange WHERE external_event_id = 'evt-1'"
            )

    def test_process_without_flow_records_error(self):
        exchange, _created = self._insert(topic="nobody-handles-this")
        result = exchange.process()
        self.assertEqual(exchange.state, "error")
        self.assertIn("No flow handles topic", exchange.error)
        self.assertIn("failed", result)
        self.assertEqual(exchange.attempts, 1)

    def test_process_is_idempotent_once_done(self):
        exchange, _created = self._insert()
        exchange.write({"state": "done"})
        self.assertIn("nothing to do", exchange.process())
        self.assertEqual(exchange.attempts, 0)

    def test_transient_error_retries(self):
        exchange, _created = self._insert()

        def boom(self):
            raise TransientError("channel timed out")

        self.patch(type(self.Exchange), "_apply", boom)
        with self.assertRaises(RetryableJobError) as caught:
            exchange.process()
        # no delay of its own: the retry pattern of the job function applies
        self.assertIsNone(caught.exception.seconds)

    def test_transient_error_on_the_last_attempt_is_recorded(self):
        exchange, _created = self._insert()
        exchange.with_delay(max_retries=3).process()
        job = self.env["queue.job"].search([("model_name", "=", self.Exchange._name)])
        job = job.filtered(lambda j: j.records == exchange)
        self.assertEqual(len(job), 1)

        def boom(self):
            raise TransientError("channel still down")

        self.patch(type(self.Exchange), "_apply", boom)
        job.retry = 1
        with self.assertRaises(RetryableJobError):
            exchange.with_context(job_uuid=job.uuid).process()
        job.retry = 2
        result = exchange.with_context(job_uuid=job.uuid).process()
        self.assertEqual(result, "failed: transient, retries exhausted")
        self.assertEqual(exchange.state, "error")
        self.assertIn("channel still down", exchange.error)

    def test_rate_limited_error_retries_after_the_given_delay(self):
        exchange, _created = self._insert()

        def slow_down(self):
            raise RateLimitedError("429 Too Many Requests", retry_after=42)

        self.patch(type(self.Exchange), "_apply", slow_down)
        with self.assertRaises(RetryableJobError) as caught:
            exchange.process()
        self.assertEqual(caught.exception.seconds, 42)

    def test_permanent_error_message_is_redacted(self):
        backend = self.make_backend("Leaky", api_secret="leaky-token-123456")
        exchange, _created = self.Exchange._insert_inbound(
            backend, "order", "order", "evt-leak", None, b"{}", "application/json", {}
        )

        def boom(self):
            raise PermanentError("401 for token leaky-token-123456", kind="permanent")

        self.patch(type(self.Exchange), "_apply", boom)
        exchange.process()
        self.assertEqual(exchange.state, "error")
        self.assertNotIn("leaky-token-123456", exchange.error)
        self.assertIn("***", exchange.error)

    def test_unexpected_error_is_recorded_not_raised(self):
        exchange, _created = self._insert()

        def boom(self):
            raise ZeroDivisionError("bug")

        self.patch(type(self.Exchange), "_apply", boom)
        with mute_logger(
            "odoo.addons.distribution_connector.models.distribution_exchange"
        ):
            self.assertEqual(exchange.process(), "failed: internal")
        self.assertEqual(exchange.state, "error")
        self.assertIn("ZeroDivisionError", exchange.error)

    def test_retry_enqueues_one_job_with_ids_only(self):
        exchange, _created = self._insert()
        exchange.write({"state": "error"})
        with trap_jobs() as trap:
            exchange.action_retry()
            trap.assert_jobs_count(1, only=exchange.process)
            job = trap.enqueued_jobs[0]
            self.assertEqual(job.args, ())
            self.assertEqual(job.recordset, exchange)
        self.assertEqual(exchange.state, "received")

    def test_job_function_channel(self):
        function = self.env["queue.job.function"].search(
            [("name", "=", "<distribution.exchange>.process")]
        )
        self.assertEqual(function.channel, "root.distribution.inbound")
        self.assertTrue(function.retry_pattern)

    def test_ignore(self):
        exchange, _created = self._insert()
        exchange.action_ignore()
        self.assertEqual(exchange.state, "ignored")
        self.assertIn("nothing to do", exchange.process())

    def test_headers_are_json(self):
        exchange, _created = self.Exchange._insert_inbound(
            self.backend,
            "order",
            "order",
            "evt-h",
            None,
            b"{}",
            "application/json",
            {"user-agent": "test-agent"},
        )
        self.assertEqual(json.loads(exchange.headers), {"user-agent": "test-agent"})


@tagged("-at_install", "post_install")
class TestExchangeRace(DistributionTestMixin, TransactionCase):
    """Two deliveries of one event racing in two real transactions."""

    def test_concurrent_inserts_store_one_exchange(self):
        self.setUpDistribution()
        registry = self.registry
        # committed setup: the racing transactions must see the backend
        with committed_env(registry) as env:
            backend_id = (
                env["distribution.backend"]
                .create({"name": "Race backend", "webhook_secret": "race-secret-1234"})
                .id
            )

        def cleanup():
            with committed_env(registry) as env:
                env.cr.execute(
                    "DELETE FROM distribution_exchange WHERE backend_id = %s",
                    [backend_id],
                )
                env.cr.execute(
                    "DELETE FROM mail_message WHERE model = %s AND res_id = %s",
                    ["distribution.backend", backend_id],
                )
                env.cr.execute(
                    "DELETE FROM distribution_backend WHERE id = %s", [backend_id]
                )

        self.addCleanup(cleanup)
        barrier = threading.Barrier(2, timeout=20)
        results = []
        errors = []

        def deliver():
            try:
                with committed_env(registry) as env:
                    backend = env["distribution.backend"].browse(backend_id)
                    backend.fetch(["company_id"])  # read before the race
                    barrier.wait()

                    def insert():
                        _exchange, created = env[
                            "distribution.exchange"
                        ]._insert_inbound(
                            backend,
                            "order",
                            "order",
                            "race-evt",
                            "1",
                            b"{}",
                            "application/json",
                            {},
                        )
                        # hold the row a moment so the other insert really waits
                        time.sleep(0.2)
                        return created

                    # as the HTTP layer does (odoo.service.model.retrying): a
                    # serialization failure replays the request in a new
                    # transaction, which then sees the winner's row
                    for _attempt in range(3):
                        try:
                            results.append(insert())
                            break
                        except psycopg2.errors.SerializationFailure:
                            env.cr.rollback()
                            env.invalidate_all()
            except Exception as err:
                errors.append(err)

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(results), [False, True])
        with committed_env(registry) as env:
            env.cr.execute(
                "SELECT count(*) FROM distribution_exchange WHERE backend_id = %s",
                [backend_id],
            )
            self.assertEqual(env.cr.fetchone()[0], 1)
