import json
from datetime import timedelta

from odoo import fields
from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.delay import Delayable
from odoo.addons.queue_job.tests.common import trap_jobs

from ..jobs import delay_many
from .common import DistributionTestMixin


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

    @staticmethod
    def _trapped(trap, method_name):
        return [job for job in trap.enqueued_jobs if job.method_name == method_name]

    def test_one_process_job_per_waiting_exchange(self):
        first = self._insert("evt-1")
        second = self._insert("evt-2")
        done = self._insert("evt-3")
        done.write({"state": "done"})
        elsewhere = self._insert("evt-4", self.other_backend)
        with trap_jobs() as trap:
            result = self.Exchange.dispatch(self.backend.id)
            jobs = self._trapped(trap, "process")
            self.assertEqual(result, "2 exchange(s) enqueued")
            self.assertEqual([job.recordset for job in jobs], [first, second])
            self.assertEqual([job.args for job in jobs], [(), ()])
            self.assertTrue(first.dispatched_at and second.dispatched_at)
            self.assertFalse(done.dispatched_at or elsewhere.dispatched_at)
            # each exchange knows the job processing it
            self.assertEqual(
                [first.job_uuid, second.job_uuid], [job.uuid for job in jobs]
            )
            # the jobs run as the backend's technical user, in its company
            self.assertEqual(jobs[0].user_id, self.backend.job_user_id.id)
            self.assertEqual(jobs[0].recordset.env.company, self.backend.company_id)
            # and a follow-up dispatcher picks up what arrived meanwhile
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            trap.enqueued_jobs.clear()
            self.assertEqual(
                self.Exchange.dispatch(self.backend.id),
                "nothing to do: no received exchange waiting",
            )
            # nothing more to enqueue but its last look
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            self.assertTrue(trap.enqueued_jobs[0].kwargs["last_look"])

    def test_backlog_larger_than_a_batch_continues_in_the_follow_up(self):
        exchanges = [self._insert(f"evt-{n}") for n in range(5)]
        with trap_jobs() as trap:
            self.Exchange.dispatch(self.backend.id, batch_size=2)
            ran = self.run_trapped_jobs(trap)
        processed = [job.recordset for job in ran if job.method_name == "process"]
        # each exchange processed exactly once, oldest first
        self.assertEqual([e.id for e in processed], [e.id for e in exchanges])
        dispatchers = [
            (job.kwargs["last_look"], job.result)
            for job in ran
            if job.method_name == "dispatch"
        ]
        # the follow-ups: batches of 2 and 1, one that finds nothing, and
        # its last look a few seconds later, which ends the chain
        nothing = "nothing to do: no received exchange waiting"
        self.assertEqual(
            dispatchers,
            [
                (False, "2 exchange(s) enqueued"),
                (False, "1 exchange(s) enqueued"),
                (False, nothing),
                (True, nothing),
            ],
        )

    def test_follow_up_waits_unless_a_backlog_is_left(self):
        """A dispatcher that found a full batch hands over at once; one that
        found less leaves its follow-up a second to gather what arrives."""
        for n in range(3):
            self._insert(f"evt-{n}")
        with trap_jobs() as trap:
            self.Exchange.dispatch(self.backend.id, batch_size=2)
            (at_once,) = self._trapped(trap, "dispatch")
            trap.enqueued_jobs.clear()
            self.Exchange.dispatch(self.backend.id, batch_size=2)
            (later,) = self._trapped(trap, "dispatch")
        self.assertFalse(at_once.eta)
        self.assertFalse(at_once.kwargs["last_look"] or later.kwargs["last_look"])
        self.assertAlmostEqual(
            later.eta,
            fields.Datetime.now() + timedelta(seconds=1),
            delta=timedelta(seconds=1),
        )

    def test_a_dispatcher_that_finds_nothing_looks_again_once(self):
        with trap_jobs() as trap:
            self.Exchange.dispatch(self.backend.id)
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            last_look = trap.enqueued_jobs[0]
            self.assertEqual(last_look.kwargs["last_look"], True)
            self.assertTrue(last_look.eta)
            # an exchange committed just after the first one had started
            exchange = self._insert("evt-late")
            trap.enqueued_jobs.clear()
            self.Exchange.dispatch(self.backend.id, last_look=True)
            trap.assert_jobs_count(1, only=exchange.process)
            trap.enqueued_jobs.clear()
            # follow-up of a last look that found work: an ordinary one
            self.Exchange.dispatch(self.backend.id)
            self.Exchange.dispatch(self.backend.id, last_look=True)
            trap.assert_jobs_count(1)

    def test_retry_is_dispatched_once(self):
        exchange = self._insert("evt-r")
        exchange.write({"state": "error"})
        with trap_jobs() as trap:
            exchange.action_retry()
            self.assertTrue(exchange.dispatched_at)
            self.Exchange.dispatch(self.backend.id)
            trap.assert_jobs_count(1, only=exchange.process)

    def test_only_a_retry_is_looked_up_by_identity_key(self):
        """The dispatcher knows none of its exchanges has a job waiting and
        spares queue_job's look-up; a Retry may be clicked twice, so its job
        carries the key that makes the second click reuse it."""
        dispatched = self._insert("evt-d")
        retried = self._insert("evt-e")
        retried.write({"state": "error", "attempts": 1})
        Job = self.env["queue.job"].sudo()
        before = Job.search([("method_name", "=", "process")])
        self.Exchange.dispatch(self.backend.id)
        retried.action_retry()
        retried.action_retry()
        jobs = Job.search([("method_name", "=", "process")]) - before
        keys = {job.records.id: job.identity_key for job in jobs}
        self.assertEqual(len(jobs), 2, "one job each, the second click reused")
        self.assertEqual(
            keys,
            {
                dispatched.id: False,
                retried.id: f"distribution.exchange.process:{retried.id}:1",
            },
        )

    def _stored_job_row(self, exchange):
        """The raw columns of the one ``process`` job of ``exchange``, with
        what is its own (ids, uuid, dates) left out or made generic."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT * FROM queue_job WHERE method_name = 'process' AND model_name = %s",
            [self.Exchange._name],
        )
        rows = [
            dict(row, records=json.loads(row["records"]))
            for row in self.env.cr.dictfetchall()
        ]
        rows = [row for row in rows if row["records"]["ids"] == [exchange.id]]
        self.assertEqual(len(rows), 1)
        row = rows[0]
        for own in ("id", "uuid", "date_created"):
            self.assertTrue(row.pop(own))
        row["records"]["ids"] = None
        for column in ("name", "func_string"):
            row[column] = row[column].replace(str(exchange.id), "<id>")
        return row

    def test_jobs_stored_together_are_those_with_delay_stores(self):
        """The dispatcher stores its jobs in one statement: they must be
        what queue_job's own ``with_delay()`` stores, column by column."""
        single = self._insert("evt-single")
        together = self._insert("evt-1") | self._insert("evt-2")
        single._job_records(self.backend).with_delay(
            description=f"Process exchange #{single.id}"
        ).process()
        together._delay_process_many(self.backend)
        expected = self._stored_job_row(single)
        self.assertEqual(expected["state"], "pending")
        self.assertEqual(expected["channel"], "root.distribution.inbound")
        self.assertEqual(expected["user_id"], self.backend.job_user_id.id)
        for exchange in together:
            self.assertEqual(self._stored_job_row(exchange), expected)

    def test_jobs_stored_together_honour_queue_job_switches(self):
        exchanges = self._insert("evt-1") | self._insert("evt-2")
        records = exchanges._job_records(self.backend)
        # an identity key needs queue_job's look-up, job by job
        keyed = Delayable(records[0], identity_key="same").process()
        with self.assertRaises(ValueError):
            delay_many([keyed])
        keyed.delay()
        # trapped by queue_job's test helper: nothing stored
        Job = self.env["queue.job"].sudo()
        before = Job.search_count([])
        with trap_jobs() as trap:
            delay_many(Delayable(record).process() for record in records)
            trap.assert_jobs_count(2)
        self.assertEqual(Job.search_count([]), before)
        # queue_job's switch to run jobs at once, in tests
        delay_many(
            Delayable(record.with_context(queue_job__no_delay=True)).process()
            for record in records
        )
        self.assertEqual(Job.search_count([]), before)
        self.assertEqual(set(exchanges.mapped("state")), {"error"})

    def test_storing_reuses_a_waiting_dispatcher(self):
        key = f"distribution.exchange.dispatch:{self.backend.id}"
        Job = self.env["queue.job"].sudo()
        self._insert("evt-a")
        waiting = Job.search([("identity_key", "=", key)])
        self.assertEqual(len(waiting), 1)
        self.assertEqual(waiting.state, "pending")
        self.assertEqual(waiting.channel, "root.distribution.inbound")
        self.assertEqual(waiting.args, [self.backend.id])
        self._insert("evt-b")
        waiting.state = "enqueued"
        self._insert("evt-c")
        # a duplicate stores nothing and wakes nothing
        self._insert("evt-a")
        self.assertEqual(Job.search_count([("identity_key", "=", key)]), 1)
        # a dispatcher running hands over to a follow-up, which will see
        # the exchange: nothing to wake
        waiting.write({"state": "started", "date_started": fields.Datetime.now()})
        self._insert("evt-d")
        self.assertEqual(Job.search_count([("identity_key", "=", key)]), 1)
        # unless it started so long ago that its worker must have died
        waiting.date_started = fields.Datetime.now() - timedelta(minutes=2)
        self._insert("evt-e")
        self.assertEqual(
            Job.search([("identity_key", "=", key)]).mapped("state"),
            ["pending", "started"],
        )
        # each backend has its own dispatcher
        self._insert("evt-a", self.other_backend)
        self.assertEqual(
            Job.search_count(
                [
                    (
                        "identity_key",
                        "=",
                        f"{key[: key.rindex(':')]}:{self.other_backend.id}",
                    )
                ]
            ),
            1,
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

    def test_a_paused_backend_processes_nothing_until_resumed(self):
        first = self._insert("evt-1")
        with trap_jobs() as trap:
            self.Exchange.dispatch(self.backend.id)
            self.assertEqual(len(self._trapped(trap, "process")), 1)
        # paused after its exchange got a job: the job processes nothing
        self.backend.action_pause()
        with trap_jobs() as trap:
            second = self._insert("evt-2")
            trap.assert_jobs_count(0)
        self.assertEqual(
            first.process(), "nothing to do: backend paused, processed once resumed"
        )
        self.assertRecordValues(
            first, [{"state": "received", "dispatched_at": False, "attempts": 0}]
        )
        self.env.cr.execute(
            "UPDATE distribution_exchange SET received_at = %s WHERE id IN %s",
            [fields.Datetime.now() - timedelta(minutes=5), (first.id, second.id)],
        )
        with trap_jobs() as trap:
            # neither a dispatcher nor the safety net takes them meanwhile
            self.assertEqual(
                self.Exchange.dispatch(self.backend.id),
                "nothing to do: backend paused",
            )
            self.Exchange._cron_dispatch()
            trap.assert_jobs_count(0)
            self.backend.action_resume()
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            ran = self.run_trapped_jobs(trap)
        processed = [job.recordset for job in ran if job.method_name == "process"]
        self.assertEqual(processed, [first, second])
        self.assertEqual(first.attempts, 1)
