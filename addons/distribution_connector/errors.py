"""Error classes shared by adapters, the HTTP client and the flows.

Every failure is classified once, where it is understood:

* ``TransientError``: the other side or the network may succeed later
  (timeouts, 5xx, lock contention). Jobs retry it with backoff.
* ``RateLimitedError``: the other side asked us to slow down; retry after the
  delay it gave.
* ``PermanentError``: retrying cannot help (bad payload, unknown SKU, 4xx).
  Jobs record it as a typed exception and end.
* ``NotAppliedError``: the event is authentic but applying it would be
  wrong: older than what was applied (``StaleEventError``, the exchange is
  ``ignored``) or not what its unsigned headers claim
  (``RefusedEventError``, the exchange is ``refused``). Jobs record the
  reason on the exchange and end; nothing waits in the review queue, since
  retrying cannot change it.
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


class NotAppliedError(DistributionError):
    """An authentic event that changes nothing; ``state`` is what its
    exchange becomes, ``record`` the record it is about, if known."""

    state = "ignored"

    def __init__(self, message, record=None, **kwargs):
        super().__init__(message, **kwargs)
        self.record = record


class StaleEventError(NotAppliedError):
    """Not newer than the version of the object applied already."""

    kind = "stale"
    state = "ignored"


class RefusedEventError(NotAppliedError):
    """The signed body does not say what the unsigned headers (topic, URL)
    claim: the sender's signature does not cover them, so the headers alone
    never make an event."""

    kind = "refused"
    state = "refused"


class SignatureError(Exception):
    """A webhook's signature is missing or does not match."""
