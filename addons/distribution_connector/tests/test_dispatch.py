from datetime import timedelta

import psycopg2

from odoo import fields
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import DistributionTestMixin, committed_env


class TestDispatch(DistributionTestMixin, TransactionCase):
    """The dispatcher turns received exchanges into processing jobs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()
        cls.other_backend = cls.make_backend("Other channel")

    def _insert(self, event_id, backend=None):
        exchange, _created = self.Exchange._insert_inbound(
            backend or self.backend,
            "order",
            "order",
            event_id,
            event_id,
            b"{}",
            "application/json",
            {},
        )
        return exchange

    def _process_jobs(self, trap):
        return [
            job for job in trap.enqueued_jobs if job.method_name == "process"
        ]

    def test_one_process_job_per_waiting_exchange(self):
        first = self._insert("evt-1")
        second = self._insert("evt-2")
        done = self._insert("evt-3")
        done.write({"state": "done"})
        elsewhere = self._insert("evt-4", self.other_backend)
        with trap_jobs() as trap:
            result = self.Exchange.dispatch(self.backend.id)
            jobs = self._process_jobs(trap)
            self.assertEqual(result, "2 exchange(s) enqueued")
            self.assertEqual([job.recordset for job in jobs], [first, second])
            self.assertEqual([job.args for job in jobs], [(), ()])
            self.assertTrue(first.dispatched_at and second.dispatched_at)
            self.assertFalse(done.dispatched_at or elsewhere.dispatched_at)
            # the jobs run as the backend's technical user, in its company
            self.assertEqual(jobs[0].user_id, self.backend.job_user_id.id)
            self.assertEqual(
                jobs[0].recordset.env.company, self.backend.company_id
            )
            # and a follow-up dispatcher picks up what arrived meanwhile
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            trap.enqueued_jobs.clear()
            self.assertEqual(
                self.Exchange.dispatch(self.backend.id),
                "nothing to do: no received exchange waiting",
            )
            trap.assert_jobs_count(0)

    def test_backlog_larger_than_a_batch_continues_in_the_follow_up(self):
        exchanges = [self._insert(f"evt-{n}") for n in range(5)]
        with trap_jobs() as trap:
            self.Exchange.dispatch(self.backend.id, batch_size=2)
            ran = self.run_trapped_jobs(trap)
        processed = [job.recordset for job in ran if job.method_name == "process"]
        # each exchange processed exactly once, oldest first
        self.assertEqual([e.id for e in processed], [e.id for e in exchanges])
        dispatchers = [job for job in ran if job.method_name == "dispatch"]
        # the follow-ups: batches of 2, 2, 1, then one that finds nothing
        self.assertEqual(len(dispatchers), 3)

    def test_retry_is_dispatched_once(self):
        exchange = self._insert("evt-r")
        exchange.write({"state": "error"})
        with trap_jobs() as trap:
            exchange.action_retry()
            self.assertTrue(exchange.dispatched_at)
            self.Exchange.dispatch(self.backend.id)
            trap.assert_jobs_count(1, only=exchange.process)

    def test_wake_reuses_a_pending_dispatcher(self):
        key = f"distribution.exchange.dispatch:{self.backend.id}"
        Job = self.env["queue.job"].sudo()
        self.Exchange._wake_dispatcher(self.backend)
        pending = Job.search([("identity_key", "=", key)])
        self.assertEqual(len(pending), 1)
        self.assertEqual(pending.state, "pending")
        self.assertEqual(pending.channel, "root.distribution.inbound")
        self.assertEqual(pending.args, [self.backend.id])
        self.Exchange._wake_dispatcher(self.backend)
        self.Exchange._wake_dispatcher(self.backend)
        self.assertEqual(Job.search_count([("identity_key", "=", key)]), 1)
        # a dispatcher already running may have read the inbox already:
        # the next webhook wakes a new one
        pending.state = "started"
        self.Exchange._wake_dispatcher(self.backend)
        self.assertEqual(
            Job.search([("identity_key", "=", key)]).mapped("state"),
            ["pending", "started"],
        )

    def test_cron_dispatches_what_no_dispatcher_saw(self):
        late = self._insert("evt-late")
        recent = self._insert("evt-recent")
        elsewhere = self._insert("evt-other", self.other_backend)
        self.env.cr.execute(
            "UPDATE distribution_exchange SET received_at = %s WHERE id IN %s",
            [fields.Datetime.now() - timedelta(minutes=5), (late.id, elsewhere.id)],
        )
        with trap_jobs() as trap:
            self.Exchange._cron_dispatch()
            trap.assert_jobs_count(2, only=self.Exchange.dispatch)
            self.assertEqual(
                sorted(job.args for job in trap.enqueued_jobs),
                sorted([(self.backend.id,), (self.other_backend.id,)]),
            )
            self.run_trapped_jobs(trap)
        self.assertTrue(late.dispatched_at and recent.dispatched_at)
        self.assertTrue(elsewhere.dispatched_at)


@tagged("-at_install", "post_install")
class TestDispatchLock(DistributionTestMixin, TransactionCase):
    """The webhook's read of the pending dispatcher holds it back until the
    webhook's transaction commits, so the dispatcher sees its exchange."""

    def test_runner_cannot_start_the_dispatcher_before_commit(self):
        self.setUpDistribution()
        registry = self.registry
        with committed_env(registry) as env:
            backend = env["distribution.backend"].create(
                {"name": "Lock backend", "webhook_secret": "lock-secret-1234"}
            )
            backend_id = backend.id
            env["distribution.exchange"]._delay_dispatch(backend)
            key = f"distribution.exchange.dispatch:{backend_id}"

        def cleanup():
            with committed_env(registry) as env:
                env.cr.execute("DELETE FROM queue_job WHERE identity_key = %s", [key])
                env.cr.execute(
                    "DELETE FROM mail_message WHERE model = %s AND res_id = %s",
                    ["distribution.backend", backend_id],
                )
                env.cr.execute(
                    "DELETE FROM distribution_backend WHERE id = %s", [backend_id]
                )

        self.addCleanup(cleanup)
        with committed_env(registry) as webhook_env:
            webhook_backend = webhook_env["distribution.backend"].browse(backend_id)
            webhook_env["distribution.exchange"]._wake_dispatcher(webhook_backend)
            # what the job runner does to start a pending job, meanwhile
            with committed_env(registry) as runner_env:
                runner_env.cr.execute("SET LOCAL lock_timeout = '300ms'")
                with (
                    mute_logger("odoo.sql_db"),
                    self.assertRaises(psycopg2.errors.LockNotAvailable),
                ):
                    runner_env.cr.execute(
                        "UPDATE queue_job SET state = 'enqueued'"
                        " WHERE identity_key = %s",
                        [key],
                    )
                runner_env.cr.rollback()
            # still a single dispatcher for this backend
            webhook_env.cr.execute(
                "SELECT count(*) FROM queue_job WHERE identity_key = %s", [key]
            )
            self.assertEqual(webhook_env.cr.fetchone()[0], 1)
        # once the webhook committed, the runner goes on at once
        with committed_env(registry) as runner_env:
            runner_env.cr.execute("SET LOCAL lock_timeout = '300ms'")
            runner_env.cr.execute(
                "UPDATE queue_job SET state = 'enqueued' WHERE identity_key = %s",
                [key],
            )
            self.assertEqual(runner_env.cr.rowcount, 1)
