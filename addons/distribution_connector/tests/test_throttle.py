"""The outbound rate limit of a backend, shared by workers racing for it.

Each worker runs in its own thread on a real transaction of its own, as job
runners do; the backend is committed and deleted again in a cleanup.
"""

import threading
import time

from odoo.tests.common import TransactionCase, tagged

from ..http_client import BackendHttpClient
from .common import commit_backend, committed_env

WORKERS = 4
CALLS = 50
RATE = 80.0
BURST = 5
#: how late a thread may run after the moment it was given, on a busy machine
JITTER = 0.05
WORKER_TIMEOUT = 60


@tagged("-at_install", "post_install")
class TestThrottleConcurrency(TransactionCase):
    def test_workers_share_the_bucket_without_serialization_errors(self):
        backend_id = commit_backend(self, "Throttled channel")
        with committed_env(self.registry) as env:
            env["distribution.backend"].browse(backend_id).write(
                {"rate_limit_per_second": RATE, "rate_limit_burst": BURST}
            )
        barrier = threading.Barrier(WORKERS, timeout=WORKER_TIMEOUT)
        calls, errors = [], []

        def worker():
            try:
                with committed_env(self.registry) as env:
                    backend = env["distribution.backend"].browse(backend_id)
                    client = BackendHttpClient(backend)
                    barrier.wait()
                    for _call in range(CALLS):
                        # what the client does before each HTTP call
                        client._throttle()
                        calls.append(time.monotonic())
            except Exception as err:  # reported by the test
                errors.append(err)

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WORKER_TIMEOUT)
            self.assertFalse(thread.is_alive(), "a worker is stuck")
        self.assertEqual(errors, [], "no error reaches the callers")
        self.assertEqual(len(calls), WORKERS * CALLS)
        calls.sort()
        # in any window, at most the burst plus what the rate refills
        worst = max(
            (last - first + 1) - (BURST + RATE * (calls[last] - calls[first] + JITTER))
            for first in range(len(calls))
            for last in range(first, len(calls))
        )
        self.assertLessEqual(worst, 0, "more calls than the bucket allows")
        # and the bucket was the limit: the calls took as long as it says
        self.assertGreaterEqual(
            calls[-1] - calls[0], (WORKERS * CALLS - BURST) / RATE - JITTER
        )
