"""Adapter base class.

An adapter holds what is specific to one external system: how its webhooks
are signed, which header carries the event id, which topics it sends and how
its payloads map to the canonical JSON objects. The backend's ``adapter``
field picks the class (``distribution.backend._get_adapter_class()``, which
each adapter addon extends with ``_inherit``, after adding its code to the
selection with ``selection_add``). ``tools`` holds what adapters share.
"""

import abc
import hashlib
import hmac
import json

from ..errors import PermanentError
from ..http_client import BackendHttpClient

#: Headers worth keeping on an exchange for tracing. Authentication headers
#: and signatures are never kept.
TRACE_HEADERS = (
    "content-type",
    "user-agent",
    "x-request-id",
    "x-correlation-id",
)


def hmac_digest(secret, body, digestmod=hashlib.sha256):
    return hmac.new(secret.encode(), body, digestmod).digest()


def any_digest_matches(candidates, given):
    """Constant-time comparison of ``given`` against each candidate."""
    if not given:
        return False
    given = given.encode() if isinstance(given, str) else given
    matched = False
    for candidate in candidates:
        candidate = candidate.encode() if isinstance(candidate, str) else candidate
        # no early exit: time does not reveal which secret matched
        matched |= hmac.compare_digest(candidate, given)
    return matched


class DistributionAdapter(abc.ABC):
    """What one external system family speaks. One instance per backend."""

    code = None
    label = None
    #: content types accepted on the webhook route
    content_types = ("application/json",)
    #: webhook topic -> canonical object it carries (``order``, ...)
    topics = {}
    #: topics the sender documents but this adapter does not handle (yet):
    #: stored as ``ignored`` and acknowledged, so that the sender keeps its
    #: subscription; any other topic is unknown (404)
    ignored_topics = frozenset()
    #: headers kept on the exchange in addition to TRACE_HEADERS
    kept_headers = ()
    #: largest number of items one outbound call may carry
    max_batch_size = 250
    #: how the channel takes stock quantities (see :meth:`export_stock`):
    #: ``compare`` (compare-and-set), ``delta`` (it adds a change to its own
    #: number) or ``absolute`` (it takes the number as it is)
    stock_update_mode = "compare"

    #: HTTP client class; adapters subclass it for their auth scheme
    http_client_class = BackendHttpClient

    def __init__(self, backend):
        self.backend = backend

    def http_client(self):
        return self.http_client_class(self.backend)

    # -- inbound webhooks -------------------------------------------------

    @abc.abstractmethod
    def verify_signature(self, headers, body):
        """True when ``body`` (raw bytes) is signed with a current secret.

        ``headers`` is a dict with lower-case names.
        """

    def is_ping(self, headers, content_type, params):
        """True for a sender's test delivery (e.g. sent when a webhook is
        created): answered 200, nothing stored. ``params`` holds the form
        fields of a form-encoded body."""
        return False

    def parse_body(self, headers, body):
        """Decode the raw body; raise ``ValueError`` when it is not readable."""
        return json.loads(body)

    def event_id(self, topic, headers, payload, body):
        """Identifier of this delivery, stable across the sender's retries.

        Defaults to a digest of the body: a byte-identical redelivery then
        collapses into the first exchange.
        """
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def external_reference(self, topic, payload):
        """The external id of the business object the event is about."""
        return None

    def resolve_topic(self, url_topic, headers):
        """The event's topic: the URL's last segment by default; adapters whose
        senders name the topic in a header (and may use slashes) override."""
        return url_topic

    def canonical_kind(self, topic):
        """Canonical object carried by ``topic``; None when not handled."""
        return self.topics.get(topic)

    def kind_is_unsigned(self, payload):
        """True when only the (unsigned) topic says which canonical object
        ``payload`` is: the flow then refuses a body that fits another kind
        just as well. Adapters mapping a vendor's own payloads, whose shape
        differs per topic, keep False."""
        return False

    #: canonical kind -> function turning a payload into that canonical
    #: object: the ``MAPPERS`` of the adapter's ``<channel>_mapping.py``
    mappers = {}

    def to_canonical(self, kind, payload):
        """Turn the external payload into the canonical object ``kind``,
        with the mapper of that kind."""
        mapper = self.mappers.get(kind)
        if not mapper:
            raise PermanentError(
                f"The {self.label} adapter does not make {kind!r} objects.",
                kind="unsupported_topic",
                key=kind,
            )
        return mapper(payload)

    # -- outbound stock ----------------------------------------------------

    def export_stock(self, items):
        """Publish stock quantities; at most ``max_batch_size`` items a call.

        :param items: list of dicts ``{"sku", "external_ref", "quantity",
            "compare_quantity", "change"}``; ``compare_quantity`` is the
            number the channel should show (None when never published):
            adapters whose API has compare-and-set send it, so that a number
            the channel moved in the meantime is not overwritten blindly;
            ``change`` is ``quantity - compare_quantity``, what a ``delta``
            adapter adds to the channel's own number (answering the result
            as ``actual_quantity``).
        :return: one dict per item, same order: ``{"sku", "status": "ok" |
            "mismatch" | "error", "actual_quantity": number or None,
            "message": str}``. ``mismatch`` means the channel's number was not
            ``compare_quantity``.
        :raise RateLimitedError: the channel asked to slow down (retry_after)
        :raise TransientError: timeout, 5xx: retry with backoff
        :raise PermanentError: the call can never succeed as it is
        """
        raise PermanentError(
            f"The {self.label} adapter cannot publish stock.", kind="unsupported"
        )

    # -- outbound fulfillment ----------------------------------------------

    def export_fulfillment(self, shipment):
        """Tell the channel that (part of) an order shipped.

        :param shipment: a canonical shipment (``schemas/shipment.json`` of
            distribution_sync): ``order_external_id``, ``lines`` with ``sku``,
            ``quantity`` and the channel's ``line_external_id`` when known,
            ``carrier``, ``tracking_number``, ``tracking_url``
        :return: ``{"external_id": <the channel's fulfillment id or None>}``
        :raise: the errors of :meth:`export_stock`
        """
        raise PermanentError(
            f"The {self.label} adapter cannot send fulfillments.", kind="unsupported"
        )

    # -- reconciliation ----------------------------------------------------

    def pull_orders(self, updated_since):
        """Orders changed since ``updated_since`` (naive UTC datetime), for
        reconciliation: they go through the same inbox as webhooks, so a
        pulled order that a webhook already delivered collapses into it.

        :return: an iterable of ``{"topic", "event_id", "external_ref",
            "payload"}``: ``topic`` is a webhook topic of this adapter,
            ``payload`` the order as the webhook would carry it (a dict), and
            ``event_id`` identifies this version of the order (e.g. its id
            and updated_at), so that pulling it twice stores it once.
        """
        raise PermanentError(
            f"The {self.label} adapter cannot pull orders.", kind="unsupported"
        )

    def read_stock(self, items):
        """The quantities the channel shows now, for the stock drift check.

        :param items: list of dicts ``{"sku", "external_ref"}`` (at most
            ``max_batch_size``), as :meth:`export_stock` receives them
        :return: one dict per item, same order: ``{"sku", "quantity": number
            or None}``; None when the channel does not know the item.
        :raise: the errors of :meth:`export_stock`
        """
        raise PermanentError(
            f"The {self.label} adapter cannot read stock.", kind="unsupported"
        )

    def trace_headers(self, headers):
        keep = TRACE_HEADERS + tuple(h.lower() for h in self.kept_headers)
        return {name: value for name, value in headers.items() if name in keep}
