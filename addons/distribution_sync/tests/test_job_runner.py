"""The order job run the way queue_job's runner runs it.

``RunJobController._runjob`` performs the job inside a savepoint (rolled back
when the job raises), marks it done and, outside test mode only, commits. On
``RetryableJobError`` it writes the postponement through a second cursor
(``Job.in_temporary_env``) and rolls the job's own transaction back.

In a TransactionCase the test cursor may neither commit nor roll back, and
a second cursor cannot see the uncommitted job row, so the retry path can
only be observed with committed data: ``TestJobRunnerCommitted`` does so.
"""

import json
from datetime import datetime, timedelta

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import TransientError
from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, PENDING, Job

from ..flows.order_import import OrderImport
from .common import CommittedDataMixin, OrderImportMixin, own_transaction


def channel_timed_out(flow):
    raise TransientError("The channel timed out.")


class TestJobRunner(OrderImportMixin, TransactionCase):
    """In the test's transaction: the runner's savepoint still rolls back a job
    that raises, so a failure recorded before raising would vanish here too."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()

    def run_job(self, exchange, **delay_options):
        """Enqueue a real job and run it as the runner does; return its record."""
        delayed = exchange.with_delay(**delay_options).process()
        job = Job.load(self.env, delayed.uuid)
        job.set_started()
        job.store()
        RunJobController._runjob(self.env, job)
        self.env.invalidate_all()
        return self.env["queue.job"].search([("uuid", "=", delayed.uuid)])

    def test_unknown_sku_job_ends_done_and_the_exception_survives(self):
        payload = self.order_payload()
        payload["lines"][0]["sku"] = "MUG-GREEN"
        exchange = self.receive(payload)
        job = self.run_job(exchange)
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: unknown_sku")
        self.assertFalse(job.exc_info)
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "MUG-GREEN")
        self.assertFalse(self.orders())

    def test_good_order_job_ends_done(self):
        exchange = self.receive(self.order_payload())
        job = self.run_job(exchange)
        self.assertEqual(job.state, DONE)
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "sale")
        self.assertEqual(job.result, f"done: sale.order {order.id}")
        self.assertEqual(exchange.state, "done")

    def test_transient_error_on_last_attempt_is_recorded(self):
        self.patch(OrderImport, "run", channel_timed_out)
        exchange = self.receive(self.order_payload())
        job = self.run_job(exchange, max_retries=1)
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: transient, retries exhausted")
        exception = self.assertOneException(exchange, "transient")
        self.assertIn("timed out", exception.message)


@tagged("-at_install", "post_install")
class TestJobRunnerCommitted(CommittedDataMixin, TransactionCase):
    """Committed data, real transactions: the runner commits a job that ends
    and rolls back one that raises."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpCommittedData()

    def setUp(self):
        super().setUp()
        self.backend_id, self.currency = self.commit_backend(
            "Runner channel", "RUNNER-MUG"
        )

    def enqueue(self, sku="RUNNER-MUG"):
        """A committed exchange and its job: (exchange id, job uuid)."""
        payload = {
            "external_id": "R-1",
            "currency": self.currency,
            "customer": {"name": "Runner"},
            "lines": [{"sku": sku, "quantity": 1, "unit_price": 5}],
        }
        with own_transaction(self.registry) as env:
            backend = env["distribution.backend"].browse(self.backend_id)
            exchange, _created = env["distribution.exchange"]._insert_inbound(
                backend, "order", "order", f"runner-{sku}", "R-1",
                json.dumps(payload).encode(), "application/json", {},
            )  # fmt: skip
            delayed = exchange.with_delay().process()
            return exchange.id, delayed.uuid

    def run_like_the_runner(self, job_uuid):
        """What /queue_job/runjob does, in a transaction of its own."""
        with own_transaction(self.registry) as env:
            job = Job.load(env, job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()  # _acquire_job commits the started state
            RunJobController._runjob(env, job)
            # _try_perform_job commits a job that ended, except in test mode;
            # after a rollback there is nothing left to commit
            env.cr.commit()

    def committed_state(self, exchange_id, job_uuid):
        """The job and the exchange as committed, and their environment."""
        env = self.enterContext(own_transaction(self.registry))
        job = env["queue.job"].search([("uuid", "=", job_uuid)])
        return job, env["distribution.exchange"].browse(exchange_id), env

    def orders(self, env):
        return env["sale.order"].search(
            [("distribution_backend_id", "=", self.backend_id)]
        )

    def test_unknown_sku_is_committed(self):
        exchange_id, job_uuid = self.enqueue(sku="RUNNER-UNKNOWN")
        self.run_like_the_runner(job_uuid)
        job, exchange, env = self.committed_state(exchange_id, job_uuid)
        self.assertEqual(job.state, DONE)
        self.assertEqual(exchange.state, "error")
        self.assertEqual(exchange.exception_ids.type, "unknown_sku")
        self.assertEqual(exchange.exception_ids.key, "RUNNER-UNKNOWN")
        self.assertFalse(self.orders(env))

    def test_good_order_is_committed(self):
        exchange_id, job_uuid = self.enqueue()
        self.run_like_the_runner(job_uuid)
        job, exchange, env = self.committed_state(exchange_id, job_uuid)
        self.assertEqual(job.state, DONE)
        order = self.orders(env)
        self.assertEqual(len(order), 1)
        self.assertRecordValues(
            exchange, [{"state": "done", "res_model": "sale.order", "res_id": order.id}]
        )

    def test_transient_error_postpones_the_job(self):
        exchange_id, job_uuid = self.enqueue()
        self.patch(OrderImport, "run", channel_timed_out)
        before = datetime.now()
        self.run_like_the_runner(job_uuid)
        job, exchange, env = self.committed_state(exchange_id, job_uuid)
        self.assertEqual(job.state, PENDING)
        self.assertEqual(job.retry, 1)
        self.assertGreaterEqual(job.eta, before + timedelta(seconds=9))
        self.assertIn("timed out", job.result)
        # the attempt was rolled back: nothing recorded, nothing imported
        self.assertFalse(
            env["distribution.exception"].search([("exchange_id", "=", exchange_id)])
        )
        self.assertEqual(exchange.state, "received")
        self.assertFalse(self.orders(env))
