"""queue_job's private functions used by ``delay_many`` (``queue_job_shim``):
a queue_job release that changes them must fail here, not in production."""

import inspect

from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.delay import Delayable
from odoo.addons.queue_job.job import Job

from .. import queue_job_shim
from ..jobs import delay_many
from .common import DistributionTestMixin

#: what a loaded job is, as queue_job runs it
JOB_ATTRIBUTES = (
    "method_name",
    "args",
    "kwargs",
    "user_id",
    "company_id",
    "channel",
    "priority",
    "max_retries",
    "eta",
    "identity_key",
    "state",
)


class TestQueueJobShim(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def _insert(self, event_id):
        exchange, _created = self.Exchange._insert_inbound(
            self.backend, "order", "order", event_id, event_id, b"{}",
            "application/json", {}, dispatch=False,
        )  # fmt: skip
        return exchange

    def test_private_functions_keep_their_signatures(self):
        for owner, name, parameters in queue_job_shim.PRIVATE_API:
            with self.subTest(function=f"{owner.__name__}.{name}"):
                function = getattr(owner, name, None)
                self.assertTrue(callable(function), f"queue_job lost {name}")
                self.assertEqual(
                    tuple(inspect.signature(function).parameters), parameters
                )
        # the token queue_job's own code passes to write its jobs
        model = type(self.env["queue.job"])
        self.assertTrue(hasattr(model, "EDIT_SENTINEL"))
        source = inspect.getsource(Job.store)
        self.assertIn(queue_job_shim.EDIT_SENTINEL_KEY, source)
        self.assertIn("EDIT_SENTINEL", source)

    def test_jobs_stored_together_run_as_queue_job_runs_its_own(self):
        """A job stored by ``delay_many`` is loaded and run by queue_job
        exactly as one stored by ``with_delay()``."""
        own, shared = self._insert("shim-own"), self._insert("shim-shared")
        own_records = own._job_records(self.backend)
        shared_records = shared._job_records(self.backend)
        own_uuid = own_records.with_delay().process().uuid
        [shared_job] = delay_many([Delayable(shared_records).process()])
        self.assertIsInstance(shared_job, Job)
        self.env.flush_all()
        own_loaded = Job.load(self.env, own_uuid)
        shared_loaded = Job.load(self.env, shared_job.uuid)
        self.assertEqual(shared_loaded.recordset, shared)
        self.assertEqual(shared_loaded.recordset.env.uid, self.backend.job_user_id.id)
        for name in JOB_ATTRIBUTES:
            with self.subTest(attribute=name):
                self.assertEqual(
                    getattr(shared_loaded, name), getattr(own_loaded, name)
                )
        # run as the job runner runs them: same outcome on each exchange
        for loaded in (own_loaded, shared_loaded):
            loaded.set_started()
            loaded.perform()
            loaded.set_done()
            loaded.store()
        self.assertNotEqual(own.state, "received")
        self.assertEqual(shared.state, own.state)
        self.assertEqual(shared.attempts, own.attempts)
        self.assertEqual(
            self.env["queue.job"].search([("uuid", "=", shared_job.uuid)]).state,
            "done",
        )
