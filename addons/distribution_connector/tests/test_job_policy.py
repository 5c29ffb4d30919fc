"""The job failure ladder (``job_policy.run_job``), seen through a job run
the way queue_job's runner runs it, on committed data.

``RunJobController._runjob`` performs the job in a savepoint and marks it
done (outside test mode the runner commits; here the test does); on
``RetryableJobError`` or a concurrency error of PostgreSQL it postpones the
job through a second cursor and rolls the attempt back; on any other error it
marks the job failed through a second cursor and raises. So what a job
recorded must be committed with a done job, and nothing of an attempt that
was retried or failed may remain.
"""

import os

import psycopg2

from odoo.tests.common import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, FAILED, PENDING, Job

from ..errors import PermanentError, TransientError
from ..job_policy import is_last_attempt, run_job
from .common import KEYS_ENV, TEST_KEY, commit_backend, committed_env, encryption_keys

LOCKED_PARAM = "distribution_connector.test_job_policy_lock"
POLICY_LOGGER = "odoo.addons.distribution_connector.job_policy"
RUNNER_LOGGER = "odoo.addons.queue_job.controllers.main"


@tagged("-at_install", "post_install")
class TestJobPolicyRunner(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))

    def setUp(self):
        super().setUp()
        self.backend_id = commit_backend(self, "Job policy channel")
        self.Exchange = type(self.env["distribution.exchange"])

    def enqueue(self, **delay_options):
        """A committed inbound exchange and its committed processing job."""
        with committed_env(self.registry) as env:
            backend = env["distribution.backend"].browse(self.backend_id)
            backend.paused = False
            exchange = env["distribution.exchange"].create(
                {
                    "backend_id": backend.id,
                    "topic": "order",
                    "kind": "order",
                    "external_event_id": "job-policy-1",
                    "raw_body": "{}",
                }
            )
            job_uuid = exchange.with_delay(**delay_options).process().uuid
            self.exchange_id = exchange.id
        self.addCleanup(self.delete_job, job_uuid)
        return job_uuid

    def delete_job(self, job_uuid):
        with committed_env(self.registry) as env:
            env["queue.job"].search([("uuid", "=", job_uuid)]).unlink()

    def failing_with(self, error):
        """The exchanges' flow fails with ``error`` (an exception, or a
        callable raising one)."""

        def apply(exchange):
            if callable(error):
                return error(exchange)
            raise error

        self.patch(self.Exchange, "_apply", apply)

    def run_like_the_runner(self, job_uuid):
        """Run the job as the runner does; return what it raised, if any."""
        with committed_env(self.registry) as env:
            job = Job.load(env, job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()  # _acquire_job commits the started state
            try:
                RunJobController._runjob(env, job)
            except Exception as err:  # the runner logs it; the job is failed
                env.cr.rollback()
                return err
            env.cr.commit()  # after a rollback there is nothing left to commit
        return None

    def committed(self, job_uuid):
        """(job, exchange) as committed."""
        env = self.enterContext(committed_env(self.registry))
        job = env["queue.job"].search([("uuid", "=", job_uuid)])
        return job, env["distribution.exchange"].browse(self.exchange_id)

    # -- the ladder -------------------------------------------------------------

    def test_transient_failure_postpones_the_job_and_rolls_back(self):
        job_uuid = self.enqueue()
        self.failing_with(TransientError("channel timed out", retry_after=90))
        self.assertIsNone(self.run_like_the_runner(job_uuid))
        job, exchange = self.committed(job_uuid)
        self.assertEqual(job.state, PENDING)
        self.assertEqual(job.retry, 1)
        self.assertIn("channel timed out", job.result)
        # nothing of the attempt remains
        self.assertEqual((exchange.state, exchange.attempts), ("received", 0))
        self.assertFalse(exchange.error)

    def test_transient_failure_on_the_last_attempt_is_recorded(self):
        job_uuid = self.enqueue(max_retries=1)
        self.failing_with(TransientError("channel still down"))
        self.assertIsNone(self.run_like_the_runner(job_uuid))
        job, exchange = self.committed(job_uuid)
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: transient, retries exhausted")
        self.assertEqual((exchange.state, exchange.attempts), ("error", 1))
        self.assertIn("channel still down", exchange.error)

    def test_business_failure_is_recorded_and_the_job_ends(self):
        job_uuid = self.enqueue()
        self.failing_with(PermanentError("unknown SKU MUG-9", kind="unknown_sku"))
        self.assertIsNone(self.run_like_the_runner(job_uuid))
        job, exchange = self.committed(job_uuid)
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: unknown_sku")
        self.assertEqual(exchange.state, "error")
        self.assertIn("unknown SKU MUG-9", exchange.error)

    def test_unexpected_error_is_recorded_as_internal(self):
        job_uuid = self.enqueue()
        self.failing_with(ZeroDivisionError("bug in a flow"))
        with self.assertLogs(POLICY_LOGGER, "ERROR") as logs:
            self.assertIsNone(self.run_like_the_runner(job_uuid))
        self.assertIn("ZeroDivisionError", logs.output[0])
        job, exchange = self.committed(job_uuid)
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: internal")
        self.assertEqual(exchange.state, "error")
        self.assertIn("ZeroDivisionError: bug in a flow", exchange.error)

    def test_database_error_is_left_to_the_runner(self):
        job_uuid = self.enqueue()
        self.failing_with(lambda exchange: exchange.env.cr.execute("SELECT 1 / 0"))
        with mute_logger("odoo.sql_db", RUNNER_LOGGER):
            err = self.run_like_the_runner(job_uuid)
        self.assertIsInstance(err, psycopg2.errors.DivisionByZero)
        job, exchange = self.committed(job_uuid)
        # failed visibly in the job queue; the exchange as before the attempt
        self.assertEqual(job.state, FAILED)
        self.assertIn("DivisionByZero", job.exc_name)
        self.assertEqual((exchange.state, exchange.attempts), ("received", 0))

    def test_lock_contention_is_retried_by_the_runner(self):
        job_uuid = self.enqueue()

        def lock_held_elsewhere(exchange):
            exchange.env.cr.execute(
                "SELECT id FROM ir_config_parameter WHERE key = %s FOR UPDATE NOWAIT",
                [LOCKED_PARAM],
            )

        self.failing_with(lock_held_elsewhere)
        with committed_env(self.registry) as env:
            env["ir.config_parameter"].set_param(LOCKED_PARAM, "1")
        self.addCleanup(self.delete_param)
        with committed_env(self.registry) as holder:
            holder.cr.execute(
                "SELECT id FROM ir_config_parameter WHERE key = %s FOR UPDATE",
                [LOCKED_PARAM],
            )
            with mute_logger("odoo.sql_db"):
                self.assertIsNone(self.run_like_the_runner(job_uuid))
        job, exchange = self.committed(job_uuid)
        self.assertEqual(job.state, PENDING)
        self.assertEqual((exchange.state, exchange.attempts), ("received", 0))

    def delete_param(self):
        with committed_env(self.registry) as env:
            env["ir.config_parameter"].search([("key", "=", LOCKED_PARAM)]).unlink()


@tagged("-at_install", "post_install")
class TestJobPolicy(TransactionCase):
    """The helper itself, outside the exchange."""

    def test_outside_a_job_no_attempt_is_the_last(self):
        self.assertFalse(is_last_attempt(self.env))

    def test_a_scheduled_run_records_transient_failures(self):
        recorded = []

        def work():
            raise TransientError("secret-123 timed out")

        def record(err):
            recorded.append(err)

        result = run_job(
            self.env,
            work,
            record,
            retry=False,
            redact=lambda text: text.replace("secret-123", "***"),
        )
        self.assertEqual(result, "failed: transient")
        self.assertEqual([err.kind for err in recorded], ["transient"])

    def test_tracebacks_are_redacted(self):
        recorded = []

        def work():
            raise ValueError("token secret-123 refused")

        with self.assertLogs(POLICY_LOGGER, "ERROR") as logs:
            result = run_job(
                self.env,
                work,
                recorded.append,
                redact=lambda text: text.replace("secret-123", "***"),
            )
        self.assertNotIn("secret-123", "".join(logs.output))
        self.assertEqual(result, "failed: internal")
        [err] = recorded
        self.assertEqual(err.message, "ValueError: token *** refused")
        self.assertIn("Traceback", err.details)
        self.assertNotIn("secret-123", err.details)

    def test_result_of_the_work_is_the_jobs(self):
        self.assertEqual(run_job(self.env, lambda: "done: 3", self.fail), "done: 3")
