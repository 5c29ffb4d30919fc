"""The sweep job, run the way queue_job's runner runs it, meeting an import
that marked its levels meanwhile.

A sweep writes every level it recomputes; an import committing a dirty mark
on one of them after the sweep's transaction began makes that write fail (a
serialization failure). queue_job would run the job again 5 s later and
count a retry; the sweep asks for a new run a second later instead, without
counting it, so that what the channels are offered waits no longer.
"""

from datetime import timedelta

from odoo import fields
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import committed_env
from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, PENDING, Job

from ..models.distribution_stock_level_sweep import SWEEP_RETRY_DELAY
from .common import committed_level, purge_committed_level

#: a channel that is never called: the export jobs are not run here
CHANNEL = {"name": "Sweep job channel", "rate_limit_per_second": 0}
CHANNEL["api_base_url"] = "https://channel.invalid/api"


@tagged("-at_install", "post_install")
class TestSweepJobRunner(TransactionCase):
    def setUp(self):
        super().setUp()
        self.started = fields.Datetime.now() - timedelta(seconds=1)
        with committed_env(self.registry) as env:
            level = committed_level(env, CHANNEL, "SWEEP-JOB-MUG")
            level.write({"state": "dirty", "computed_qty": 7})
            # no identity key: a sweep of the suite may be waiting already
            job = env["distribution.stock.level"].with_delay().sweep()
            self.job_uuid = job.uuid
            self.ids = (level.backend_id.id, level.product_id.id, level.id)
        self.addCleanup(self.purge)

    def purge(self):
        backend_id, product_id, _level_id = self.ids
        with committed_env(self.registry) as env:
            purge_committed_level(env, backend_id, product_id, self.started)

    def run_like_the_runner(self, meanwhile=None):
        """Run the sweep job as the runner does; ``meanwhile()`` runs in a
        transaction of its own, committed after the job's began."""
        with committed_env(self.registry) as env:
            job = Job.load(env, self.job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()  # _acquire_job commits the started state
            job.lock()  # the job's transaction, and its snapshot, begin here
            if meanwhile:
                with committed_env(self.registry) as other:
                    meanwhile(other)
            RunJobController._runjob(env, job)
            env.cr.commit()
        with committed_env(self.registry) as env:
            job = env["queue.job"].search([("uuid", "=", self.job_uuid)])
            level = env["distribution.stock.level"].browse(self.ids[2])
            return (job.state, job.retry, job.eta), (level.state, level.computed_qty)

    def test_a_level_marked_meanwhile_is_swept_again_a_second_later(self):
        level_id = self.ids[2]

        def mark(env):
            # what an import's commit does to the levels of its products
            env.cr.execute(
                "UPDATE distribution_stock_level SET state = 'dirty' WHERE id = %s",
                [level_id],
            )

        (state, retry, eta), level = self.run_like_the_runner(mark)
        self.assertEqual(state, PENDING)
        self.assertEqual(retry, 0, "a conflict is not a failed attempt")
        self.assertLessEqual(
            eta, fields.Datetime.now() + timedelta(seconds=SWEEP_RETRY_DELAY + 1)
        )
        # the attempt rolled back: the level still waits for its sweep
        self.assertEqual(level, ("dirty", 7))

    def test_without_a_conflict_the_sweep_is_done(self):
        (state, _retry, _eta), level = self.run_like_the_runner()
        self.assertEqual(state, DONE)
        # recomputed (no stock: 0), and handed over to its export
        self.assertEqual(level, ("exporting", 0))
