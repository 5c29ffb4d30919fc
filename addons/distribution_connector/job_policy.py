"""What a job does with a failure: retry it, record it, or hand it to the
runner. One ladder for every job entry point of the suite.

* ``TransientError`` (timeouts, 5xx, lock contention, rate limits): the job
  is retried (``RetryableJobError``, after the other side's delay when it gave
  one, else the job function's retry pattern) and the attempt rolls back;
  on the job's last attempt, or where no retry is wanted, the failure is
  recorded instead.
* ``RetryableJobError``: the body asked for a retry itself; passed on.
* ``psycopg2.Error``: the transaction is unusable; the runner rolls it back,
  retries serialization failures, deadlocks and lock timeouts, and fails the
  job visibly on anything else.
* ``DistributionError`` (permanent, business): recorded.
* anything else: recorded as ``internal``, with the traceback, redacted.

Recording is the caller's: a failure is recorded in the job's transaction
and the job then ends cleanly, so that what it recorded is committed with it
(a job that records and raises loses the record with its rollback).
"""

import logging
import traceback

import psycopg2

from odoo.addons.queue_job.exception import RetryableJobError

from .errors import DistributionError, TransientError

_logger = logging.getLogger(__name__)


def is_last_attempt(env):
    """True when the job running in ``env`` will not be retried after this
    attempt; False outside a job."""
    job_uuid = env.context.get("job_uuid")
    if not job_uuid:
        return False
    job = env["queue.job"].sudo().search([("uuid", "=", job_uuid)], limit=1)
    return bool(job.max_retries) and job.retry + 1 >= job.max_retries


def failure_text(err, retries_exhausted=False):
    """A failed job's result: ``failed: <kind>``."""
    suffix = ", retries exhausted" if retries_exhausted else ""
    return f"failed: {err.kind}{suffix}"


def run_job(env, work, record, *, redact=None, retry=True, what="running a job"):
    """Run ``work()`` and apply the failure ladder; return the job's result.

    :param env: the job's environment (``job_uuid`` in its context)
    :param work: the job's body, a callable returning the job's result
    :param record: ``record(err)`` keeps a failure (a ``DistributionError``)
        in the job's transaction and returns the job's result, or None for
        ``failed: <kind>``; it must not raise
    :param redact: removes the backend's secrets from a text (messages and
        tracebacks may quote them)
    :param retry: whether a transient failure retries the job; when False
        (a scheduled run that the next run retries) it is recorded
    :param what: what the job does, for the log ("processing exchange 7")
    """
    redact = redact or (lambda text: text)
    try:
        return work()
    except TransientError as err:
        last = is_last_attempt(env)
        if retry and not last:
            raise RetryableJobError(
                redact(err.message), seconds=err.retry_after
            ) from err
        return _recorded(record, err, retries_exhausted=last)
    except RetryableJobError:
        raise
    except psycopg2.Error:
        raise
    except DistributionError as err:
        return _recorded(record, err)
    except Exception as err:
        details = redact(traceback.format_exc())
        _logger.error("Unexpected error %s\n%s", what, details)
        internal = DistributionError(
            redact(f"{type(err).__name__}: {err}"), kind="internal", details=details
        )
        return _recorded(record, internal)


def _recorded(record, err, retries_exhausted=False):
    result = record(err)
    return failure_text(err, retries_exhausted) if result is None else result
