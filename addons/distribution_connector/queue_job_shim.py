"""The parts of queue_job that are not its public API and that this addon
uses all the same, in one place.

``delay_many`` (``jobs.py``) stores many jobs in one statement, which
queue_job's public API (``with_delay()``, ``Delayable.delay()``) cannot do:
it stores one job at a time. To store them exactly as queue_job would, it
builds each job with queue_job's own code and writes the values queue_job's
``Job.store()`` writes. Those functions are private to queue_job and may
change in any release: ``tests/test_queue_job_shim.py`` checks that each
one named in ``PRIVATE_API`` is there with the signature used here, and that
jobs stored this way are loaded and run by queue_job like its own.
"""

from odoo.addons.queue_job.delay import Delayable
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.utils import must_run_without_delay

#: (owner, attribute, parameters it is called with) for each private piece
#: of queue_job used below; the ``queue.job`` model's ``EDIT_SENTINEL`` is a
#: class attribute, checked by the test on the model
PRIVATE_API = (
    (Delayable, "_build_job", ("self",)),
    (Delayable, "_execute_direct", ("self",)),
    (Job, "_store_values", ("self", "create")),
    (Job, "store", ("self",)),
)

#: context key through which queue_job lets its own code write jobs
EDIT_SENTINEL_KEY = "_job_edit_sentinel"


def build_job(delayable):
    """The ``Job`` that ``delayable.delay()`` would store."""
    return delayable._build_job()


def run_now(delayable):
    """Run ``delayable`` at once, as ``delay()`` does when queue_job is told
    to run jobs without delay."""
    return delayable._execute_direct()


def runs_without_delay(env):
    """Whether queue_job runs jobs at once in ``env`` (its
    ``queue_job__no_delay`` context key or environment variable)."""
    return must_run_without_delay(env)


def stored_by_queue_job(job):
    """Whether ``job.store`` is queue_job's own; ``trap_jobs`` in tests
    replaces it, and such a job is stored by calling it."""
    return getattr(job.store, "__func__", None) is Job.store


def create_job_records(env, jobs):
    """Store ``jobs`` (all of ``env``) in one statement, with the values
    queue_job's ``Job.store()`` writes for a new job."""
    model = env["queue.job"]
    return (
        model.with_context(**{EDIT_SENTINEL_KEY: model.EDIT_SENTINEL})
        .sudo()
        .create([job._store_values(create=True) for job in jobs])
    )
