"""Export jobs run the way queue_job's runner runs them, on committed data.

``RunJobController._runjob`` performs the job in a savepoint, marks it done
and commits (outside test mode the runner commits; here the test does, as
``_acquire_job`` and ``_try_perform_job`` would); on ``RetryableJobError``
it postpones the job through a second cursor and rolls the attempt back. So
what a finished job recorded must be committed, what a postponed attempt
wrote must be gone, and the log of its HTTP calls must survive both.
"""

import json
import os
from datetime import timedelta

from odoo import fields
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    committed_env,
    encryption_keys,
)
from odoo.addons.distribution_connector.tests.fake_server import FakeServer
from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import DONE, PENDING, Job


@tagged("-at_install", "post_install")
class TestExportJobRunner(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)

    def setUp(self):
        super().setUp()
        self.server.requests.clear()
        self.server.scripts.clear()
        self.started = fields.Datetime.now() - timedelta(seconds=1)
        with committed_env(self.registry) as env:
            backend = env["distribution.backend"].create(
                {
                    "name": "Runner stock channel",
                    "webhook_secret": "runner-stock-secret-0123",
                    "api_base_url": self.server.url + "/api",
                    "allow_private_network": True,
                    "api_secret": "runner-token-0123456789",
                    "rate_limit_per_second": 0,
                }
            )
            product = env["product.product"].create(
                {
                    "name": "Runner mug",
                    "default_code": "RUNNER-MUG",
                    "is_storable": True,
                }
            )
            # what this transaction's commit would do, before the rule: no
            # channel publishes yet, so the new product marks nothing
            env["distribution.stock.level"]._flush_dirty_marks()
            env["distribution.publish.rule"].create({"backend_id": backend.id})
            # the rule gave the product (sold, without stock) its level
            level = env["distribution.stock.level"].search(
                [("product_id", "=", product.id), ("backend_id", "=", backend.id)]
            )
            level.write({"computed_qty": 12, "state": "exporting"})
            self.job_uuid = level.with_delay().export_batch().uuid
            self.ids = (backend.id, product.id, level.id)
        self.addCleanup(self.purge)

    def purge(self):
        backend_id, product_id, _level_id = self.ids
        with committed_env(self.registry) as env:
            env["distribution.call.log"].search(
                [("backend_id", "=", backend_id)]
            ).unlink()
            env["queue.job"].search(
                [
                    ("model_name", "=", "distribution.stock.level"),
                    ("date_created", ">=", self.started),
                ]
            ).unlink()
            env["distribution.backend"].browse(backend_id).unlink()
            env["product.product"].browse(product_id).unlink()

    def run_like_the_runner(self):
        with committed_env(self.registry) as env:
            job = Job.load(env, self.job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()  # _acquire_job commits the started state
            RunJobController._runjob(env, job)
            env.cr.commit()  # after a rollback there is nothing left to commit

    def committed(self):
        """(job, level, logged export calls) as committed."""
        env = self.enterContext(committed_env(self.registry))
        backend_id, _product_id, level_id = self.ids
        job = env["queue.job"].search([("uuid", "=", self.job_uuid)])
        calls = env["distribution.call.log"].search(
            [("backend_id", "=", backend_id), ("topic", "=", "stock")]
        )
        return job, env["distribution.stock.level"].browse(level_id), calls

    def test_confirmed_export_is_committed(self):
        self.server.route(
            "POST",
            "/api/stock",
            lambda recorded: (
                200,
                {"results": [{"sku": "RUNNER-MUG", "status": "ok"}]},
                {},
            ),
        )
        self.run_like_the_runner()
        job, level, calls = self.committed()
        self.assertEqual(job.state, DONE)
        self.assertEqual((level.state, level.published_qty), ("clean", 12))
        # one HTTP call, logged once, by the job that made it
        self.assertEqual(len(self.server.calls("POST", "/api/stock")), 1)
        self.assertEqual(len(calls), 1)
        self.assertEqual(
            (calls.state, calls.response_status, calls.job_uuid),
            ("done", 200, self.job_uuid),
        )

    def test_permanent_failure_is_recorded_and_survives(self):
        self.server.route(
            "POST", "/api/stock", lambda recorded: (422, {"error": "no such SKU"}, {})
        )
        self.run_like_the_runner()
        job, level, calls = self.committed()
        self.assertEqual(job.state, DONE)
        self.assertEqual(job.result, "failed: permanent")
        self.assertEqual(level.state, "error")
        self.assertIn("HTTP 422", level.error)
        self.assertFalse(level.published_at)
        self.assertEqual(calls.state, "error")
        self.assertEqual(calls.job_uuid, self.job_uuid)
        self.assertEqual(json.loads(calls.request_body)["items"][0]["quantity"], 12)

    def test_rate_limited_job_is_postponed_and_its_log_survives(self):
        self.server.route(
            "POST",
            "/api/stock",
            lambda recorded: (429, {"error": "slow down"}, {"Retry-After": "300"}),
        )
        self.run_like_the_runner()
        job, level, calls = self.committed()
        self.assertEqual(job.state, PENDING)
        self.assertGreater(job.eta, fields.Datetime.now() + timedelta(seconds=200))
        # the attempt rolled back: the level still waits for its export
        self.assertEqual(level.state, "exporting")
        self.assertFalse(level.error)
        self.assertEqual(calls.state, "error")
        self.assertIn("429", calls.error)
