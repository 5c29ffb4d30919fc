"""Generic JSON adapter (code ``generic_json``): the canonical JSON, on fixed
paths and one fixed signature header.

For a partner that implements this suite's own protocol as documented here;
nothing about it is configurable. A partner with its own header names,
signature encoding, authentication or endpoints (a B2B portal, a warehouse
system, a 3PL) is a ``rest`` backend of the ``distribution_connector_rest``
addon, which builds on this adapter and makes each of those a backend
setting.

Signature: ``X-Distribution-Signature: sha256=<hex HMAC-SHA256 of the raw
body with the webhook secret>``. Event id: the payload's ``event_id``, which
the signature covers, else ``X-Distribution-Event-Id``, which it does not,
else a digest of the body. The topic (the URL's last segment) is not signed
either: the body may name its kind (``"kind": "shipment"``, signed with it)
and must then match the topic; a body that does not name it must be the
canonical object the topic names (its schema is checked) and no other one
(a shipment and a return can look alike: such a body must name its kind).
An order applies only when its ``updated_at`` is newer than the version
applied.

Stock: ``POST {api_base_url}/stock`` with ``{"items": [{"sku", "quantity",
"compare_quantity"}]}``; the answer is ``{"results": [{"sku", "status":
"ok" | "mismatch" | "error", "actual_quantity", "message"}]}``.

Stock check: ``POST {api_base_url}/stock/read`` with ``{"items": [{"sku",
"external_ref"}]}``; the answer is ``{"results": [{"sku", "quantity"}]}``
(``quantity`` null: the item is unknown to the partner).

Order pulls: ``GET {api_base_url}/orders?updated_since=<ISO 8601>&page=<n>``
answered ``{"orders": [canonical orders], "next_page": <n> or null}``.
"""

from ..errors import PermanentError, RefusedEventError
from .base import DistributionAdapter, any_digest_matches, hmac_digest
from .tools import MAX_PAGES, STOCK_STATUSES, pulled_canonical_orders

SIGNATURE_HEADER = "x-distribution-signature"
EVENT_ID_HEADER = "x-distribution-event-id"


def sign(secret, body):
    """Header value a sender puts in ``X-Distribution-Signature``."""
    return "sha256=" + hmac_digest(secret, body).hex()


def stock_payload(items):
    """The body of a canonical stock call."""
    return {
        "items": [
            {key: item[key] for key in ("sku", "quantity", "compare_quantity")}
            for item in items
        ]
    }


class GenericJsonAdapter(DistributionAdapter):
    code = "generic_json"
    label = "Generic JSON"
    #: canonical objects, sent as themselves (the URL's topic names them)
    topics = {
        kind: kind
        for kind in (
            "order",
            "order_cancellation",
            "return",
            "shipment",
            "receipt",
            "stock_snapshot",
            "settlement",
        )
    }
    kept_headers = (EVENT_ID_HEADER,)

    def verify_signature(self, headers, body):
        given = headers.get(SIGNATURE_HEADER, "")
        expected = [sign(secret, body) for secret in self.backend._webhook_secrets()]
        return any_digest_matches(expected, given.strip())

    #: headers that may name the event, first found wins
    event_id_headers = (EVENT_ID_HEADER,)

    def event_id(self, topic, headers, payload, body):
        """The signed ``event_id`` of the body, else the sender's header: a
        signed body delivered again under another event id header is still
        the same event."""
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if event_id in (None, "") or isinstance(event_id, dict | list | bool):
            event_id = next(
                (headers[name] for name in self.event_id_headers if headers.get(name)),
                None,
            )
        return (
            str(event_id)
            if event_id
            else super().event_id(topic, headers, payload, body)
        )

    def external_reference(self, topic, payload):
        if isinstance(payload, dict) and payload.get("external_id") is not None:
            return str(payload["external_id"])
        return None

    def kind_is_unsigned(self, payload):
        return not (isinstance(payload, dict) and payload.get("kind"))

    def to_canonical(self, kind, payload):
        """The body itself, without the envelope keys ``event_id`` and
        ``kind``; a body naming another kind than the URL's is refused."""
        if isinstance(payload, dict):
            payload = dict(payload)
            payload.pop("event_id", None)
            named = payload.pop("kind", None)
            if named not in (None, "", kind):
                raise RefusedEventError(
                    f"The signed body is a {named!r}, posted as a {kind!r}: "
                    "refused, the URL's topic is not signed.",
                    key=kind,
                )
        return payload

    def export_stock(self, items):
        answer = self.http_client().json(
            "POST", "stock", topic="stock", json=stock_payload(items)
        )
        return stock_results(items, answer)

    def read_stock(self, items):
        payload = {
            "items": [
                {"sku": item.get("sku"), "external_ref": item.get("external_ref")}
                for item in items
            ]
        }
        answer = self.http_client().json(
            "POST", "stock/read", topic="stock_check", json=payload
        )
        return read_stock_results(items, answer)

    def pull_orders(self, updated_since):
        client = self.http_client()
        since = updated_since.strftime("%Y-%m-%dT%H:%M:%SZ")
        page = 1
        for _count in range(MAX_PAGES):
            answer = client.json(
                "GET",
                "orders",
                topic="order_pull",
                params={"updated_since": since, "page": page},
            )
            orders, next_page = pulled_canonical_orders(
                answer, "next_page", int | type(None)
            )
            yield from orders
            if next_page is None or next_page <= page:
                return
            page = next_page
        raise PermanentError(
            f"The order list did not end after {MAX_PAGES} pages.",
            kind="invalid_response",
        )


def read_stock_results(items, answer):
    """The quantities of a stock check answer, one per item in the items'
    order; anything malformed is a PermanentError."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise PermanentError(
            "The stock check answer has no results list.", kind="invalid_response"
        )
    by_sku = {}
    for result in results:
        quantity = result.get("quantity") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not (
            quantity is None
            or (isinstance(quantity, int | float) and not isinstance(quantity, bool))
        ):
            raise PermanentError(
                "The stock check answer holds a malformed result.",
                kind="invalid_response",
            )
        by_sku[str(result.get("sku"))] = quantity
    return [
        {"sku": item.get("sku"), "quantity": by_sku.get(str(item.get("sku")))}
        for item in items
    ]


def stock_results(items, answer):
    """The results of a stock answer, one per item in the items' order;
    anything malformed is a PermanentError."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise PermanentError(
            "The stock answer has no results list.", kind="invalid_response"
        )
    by_sku = {}
    for result in results:
        actual = result.get("actual_quantity") if isinstance(result, dict) else None
        if (
            not isinstance(result, dict)
            or result.get("status") not in STOCK_STATUSES
            or not (actual is None or isinstance(actual, int | float))
        ):
            raise PermanentError(
                "The stock answer holds a malformed result.", kind="invalid_response"
            )
        by_sku[str(result.get("sku"))] = result
    checked = []
    for item in items:
        result = by_sku.get(str(item["sku"]))
        if result is None:
            raise PermanentError(
                f"The stock answer has no result for SKU {item['sku']}.",
                kind="invalid_response",
            )
        checked.append(
            {
                "sku": item["sku"],
                "status": result["status"],
                "actual_quantity": result.get("actual_quantity"),
                "message": str(result.get("message") or ""),
            }
        )
    return checked
