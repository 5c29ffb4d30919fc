"""Exchanges whose processing job ended without processing them.

The dispatcher stores the uuid of each exchange's job on the exchange; the
dispatch cron finds the received exchanges dispatched longer than the grace
period ago whose job is no longer waiting or running: a deleted job is
replaced, a failed or cancelled one becomes an exception.
"""

import json
from datetime import timedelta

from psycopg2.errors import UndefinedTable

from odoo import fields
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import CANCELLED, FAILED, PENDING, Job
from odoo.addons.queue_job.tests.common import trap_jobs

from ..flows.order_import import OrderImport
from .common import CommittedDataMixin, OrderImportMixin, own_transaction

#: the documented system parameter, and the grace the tests set in it
GRACE_PARAM = "distribution_connector.job_recovery_grace"
GRACE = 10


def set_grace(env, minutes):
    env["ir.config_parameter"].sudo().set_param(GRACE_PARAM, str(minutes))


def dispatched_minutes_ago(env, exchange_ids, minutes):
    env.flush_all()
    env.cr.execute(
        "UPDATE distribution_exchange SET dispatched_at = %s WHERE id = ANY(%s)",
        [fields.Datetime.now() - timedelta(minutes=minutes), list(exchange_ids)],
    )
    env["distribution.exchange"].invalidate_model(["dispatched_at"])


class TestJobRecovery(OrderImportMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.Job = cls.env["queue.job"].sudo()
        set_grace(cls.env, GRACE)

    def dispatched(self):
        """An order exchange and the job the dispatcher stored for it."""
        exchange = self.receive(self.order_payload())
        self.Exchange.dispatch(self.backend.id)
        job = self.Job.search([("method_name", "=", "process")]).filtered(
            lambda job: job.records == exchange
        )
        self.assertEqual(len(job), 1)
        self.assertEqual(job.state, PENDING)
        return exchange, job

    def run_cron(self):
        """Run the dispatch cron; return the processing jobs it enqueued."""
        with trap_jobs() as trap:
            self.Exchange._cron_dispatch()
            self.env.invalidate_all()
            return trap, [j for j in trap.enqueued_jobs if j.method_name == "process"]

    def test_deleted_job_is_replaced_and_makes_one_order(self):
        exchange, job = self.dispatched()
        # a job waiting in the queue, however long, is left alone
        dispatched_minutes_ago(self.env, exchange.ids, 600)
        _trap, enqueued = self.run_cron()
        self.assertFalse(enqueued)
        # deleted from the job queue: within the grace period, left alone
        job.unlink()
        dispatched_minutes_ago(self.env, exchange.ids, GRACE - 1)
        _trap, enqueued = self.run_cron()
        self.assertFalse(enqueued)
        self.assertEqual(exchange.state, "received")
        # past it, a new job is enqueued, and recorded on the exchange
        dispatched_minutes_ago(self.env, exchange.ids, GRACE + 1)
        trap, enqueued = self.run_cron()
        self.assertEqual([j.recordset for j in enqueued], [exchange])
        self.assertEqual(enqueued[0].user_id, self.backend.job_user_id.id)
        self.run_trapped_jobs(trap)
        self.assertEqual(exchange.state, "done")
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(exchange.res_id, order.id)
        self.assertEqual(exchange.job_uuid, enqueued[0].uuid)
        # once done, nothing more to recover
        dispatched_minutes_ago(self.env, exchange.ids, 600)
        _trap, enqueued = self.run_cron()
        self.assertFalse(enqueued)
        self.assertEqual(len(self.orders()), 1)

    def test_grace_period_is_a_system_parameter(self):
        exchange, job = self.dispatched()
        job.unlink()
        set_grace(self.env, 60)
        dispatched_minutes_ago(self.env, exchange.ids, 30)
        self.assertFalse(self.run_cron()[1])
        dispatched_minutes_ago(self.env, exchange.ids, 61)
        self.assertEqual([j.recordset for j in self.run_cron()[1]], [exchange])

    def test_cancelled_job_becomes_an_exception(self):
        exchange, job = self.dispatched()
        job.button_cancelled()
        self.assertEqual(job.state, CANCELLED)
        dispatched_minutes_ago(self.env, exchange.ids, GRACE + 1)
        _trap, enqueued = self.run_cron()
        self.assertFalse(enqueued, "a person stopped it: not run again by itself")
        exception = self.assertOneException(exchange, "job_cancelled")
        self.assertIn("cancelled in the job queue", exception.message)
        self.assertEqual(exception.key, job.uuid)
        self.assertFalse(self.orders())
        # the review queue's Retry runs it
        with trap_jobs() as trap:
            exception.action_retry()
            self.run_trapped_jobs(trap)
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(len(self.orders()), 1)

    def test_job_set_done_by_hand_becomes_an_exception(self):
        exchange, job = self.dispatched()
        job.button_done()
        dispatched_minutes_ago(self.env, exchange.ids, GRACE + 1)
        self.assertFalse(self.run_cron()[1])
        exception = self.assertOneException(exchange, "job_cancelled")
        self.assertIn("set to done in the job queue", exception.message)
        self.assertFalse(self.orders())

    def test_retry_records_its_job(self):
        """A Retry records the job it enqueued, so that its end is checked
        too."""
        exchange = self.receive(self.order_payload())
        exchange.write({"state": "error"})
        with trap_jobs() as trap:
            exchange.action_retry()
            (job,) = trap.enqueued_jobs
        self.assertEqual(exchange.job_uuid, job.uuid)
        self.assertTrue(exchange.dispatched_at)


def missing_table(flow):
    """A programming error: PostgreSQL refuses the statement, queue_job
    does not retry it and the job fails."""
    flow.env.cr.execute("SELECT 1 FROM distribution_no_such_table")


@tagged("-at_install", "post_install")
class TestJobRecoveryCommitted(CommittedDataMixin, TransactionCase):
    """A job that fails for good in the runner, as committed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpCommittedData()

    def setUp(self):
        super().setUp()
        self.backend_id, self.currency = self.commit_backend(
            "Recovery channel", "RECOVERY-MUG"
        )

    def test_failed_job_becomes_an_exception_with_its_traceback(self):
        payload = {
            "external_id": "RCV-1",
            "currency": self.currency,
            "customer": {"name": "Recovery"},
            "lines": [{"sku": "RECOVERY-MUG", "quantity": 1, "unit_price": 5}],
        }
        with own_transaction(self.registry) as env:
            backend = env["distribution.backend"].browse(self.backend_id)
            exchange, _created = env["distribution.exchange"]._insert_inbound(
                backend, "order", "order", "recovery-evt", "RCV-1",
                json.dumps(payload).encode(), "application/json", {},
            )  # fmt: skip
            env["distribution.exchange"].dispatch(self.backend_id)
            job = (
                env["queue.job"]
                .search([("method_name", "=", "process")])
                .filtered(lambda job: job.records == exchange)
            )
            exchange_id, job_uuid = exchange.id, job.uuid
        self.assertTrue(job_uuid)

        # the runner runs the job, which fails for good
        self.patch(OrderImport, "run", missing_table)
        with own_transaction(self.registry) as env:
            job = Job.load(env, job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()
            with self.assertRaises(UndefinedTable), self.assertLogs(level="ERROR"):
                RunJobController._runjob(env, job)
            env.cr.rollback()
        with own_transaction(self.registry) as env:
            job = env["queue.job"].search([("uuid", "=", job_uuid)])
            self.assertEqual(job.state, FAILED)
            self.assertEqual(
                env["distribution.exchange"].browse(exchange_id).state, "received"
            )
            # a day: past any grace period the database may be set to
            dispatched_minutes_ago(env, [exchange_id], 24 * 60)

        with own_transaction(self.registry) as env:
            env["distribution.exchange"]._cron_dispatch()

        env = self.enterContext(own_transaction(self.registry))
        exchange = env["distribution.exchange"].browse(exchange_id)
        self.assertEqual(exchange.state, "error")
        self.assertIn("distribution_no_such_table", exchange.error)
        exception = exchange.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertRecordValues(
            exception, [{"type": "job_failed", "state": "open", "key": job_uuid}]
        )
        self.assertIn("failed in the job queue", exception.message)
        self.assertIn("Traceback", exception.details)
        self.assertIn("UndefinedTable", exception.details)
        self.assertIn("missing_table", exception.details)
        orders = env["sale.order"].search(
            [("distribution_backend_id", "=", self.backend_id)]
        )
        self.assertFalse(orders)
        # the failed job stays in the queue as it was: nothing else enqueued
        self.assertEqual(
            env["queue.job"].search([("uuid", "=", job_uuid)]).state, FAILED
        )
