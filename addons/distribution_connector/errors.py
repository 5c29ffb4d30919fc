"""Error classes shared by adapters, the HTTP client and the flows.

Every failure is classified once, where it is understood:

* ``TransientError``: the other side or the network may succeed later
  (timeouts, 5xx, lock contention). Jobs retry it with backoff.
* ``RateLimitedError``: the other side asked us to slow down; retry after the
  delay it gave.
* ``PermanentError``: retrying cannot help (bad payload, unknown SKU, 4xx).
  Jobs record it as a typed exception and end.
"""


class DistributionError(Exception):
    """Base class. ``kind`` is the exception type shown in the review queue."""

    kind = "internal"

    def __init__(self, message, kind=None, key=None, json_path=None, details=None):
        super().__init__(message)
        self.message = message
        if kind:
            self.kind = kind
        # What the failure waits on (a SKU, a currency code...): lets the
        # review queue replay every exception waiting on a key once it is fixed.
        self.key = key
        self.json_path = json_path
        self.details = details


class TransientError(DistributionError):
    kind = "transient"

    def __init__(self, message, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    kind = "rate_limited"


class PermanentError(DistributionError):
    kind = "permanent"


class SignatureError(Exception):
    """A webhook's signature is missing or does not match."""
