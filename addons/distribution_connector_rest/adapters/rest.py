"""REST adapter (code ``rest``): partners that speak the canonical JSON over
HTTP, each on its own terms.

Where the generic JSON adapter of distribution_connector fixes every header
and path, this one reads them from the backend: B2B portals, warehouse
systems and 3PLs each set on their backend the signature header, encoding
and prefix of their webhooks, the event id header, how we authenticate to
them (bearer, basic or an HMAC of the body) and the endpoint of each flow.
Payloads are the canonical objects of distribution_sync (``schemas/*.json``),
so the mapping is the identity.

Inbound topics (the last segment of the webhook URL) are the canonical
objects: ``order``, ``order_cancellation``, ``return``, ``shipment``,
``receipt`` and ``stock_snapshot``. Neither the URL nor the headers are
signed: the body's own ``event_id`` wins over the event id header, and what
an event does comes from the body (see the generic JSON adapter).

Outbound:

* stock: ``POST <stock endpoint>`` ``{"items": [{"sku", "quantity",
  "compare_quantity"}]}`` -> ``{"results": [{"sku", "status", "actual_quantity",
  "message"}]}`` (status ok, mismatch or error);
* fulfillment: ``POST <fulfillment endpoint>`` with a canonical shipment ->
  ``{"external_id": "..."}``;
* order pull: ``GET <orders endpoint>?updated_since=<RFC 3339>&cursor=<c>`` ->
  ``{"orders": [<canonical order>...], "next_cursor": "..." | null}``.
"""

import base64
import hashlib
import json

from odoo.addons.distribution_connector.adapters.base import (
    any_digest_matches,
    hmac_digest,
)
from odoo.addons.distribution_connector.adapters.generic_json import (
    GenericJsonAdapter,
    stock_payload,
    stock_results,
)
from odoo.addons.distribution_connector.adapters.tools import (
    MAX_PAGES,
    chunks,
    pulled_canonical_orders,
)
from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.http_client import BackendHttpClient

CANONICAL_TOPICS = (
    "order",
    "order_cancellation",
    "return",
    "shipment",
    "receipt",
    "stock_snapshot",
)
#: stock items a call carries when the backend does not say
DEFAULT_BATCH_SIZE = 250


def encode_digest(digest, encoding):
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    return digest.hex()


class RestHttpClient(BackendHttpClient):
    """Authenticates as the backend says: bearer, basic or HMAC of the body."""

    def auth_headers(self):
        backend = self.backend
        if backend.rest_auth == "bearer":
            return super().auth_headers()
        if backend.rest_auth == "basic":
            user = backend._get_secret("api_key") or ""
            password = backend._get_secret("api_secret") or ""
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    def request(self, method, path, *, topic, json=None, params=None, headers=None):
        if self.backend.rest_auth == "hmac":
            # sign the exact bytes the client will send
            body = b"" if json is None else _dumps(json)
            signature = self._signature(body)
            headers = {**(headers or {}), self.backend.rest_auth_header: signature}
        return super().request(
            method, path, topic=topic, json=json, params=params, headers=headers
        )

    def _signature(self, body):
        backend = self.backend
        secret = backend._get_secret("api_secret")
        if not secret:
            raise PermanentError(
                f"Backend {backend.name} signs its calls but has no API secret.",
                kind="configuration",
            )
        digest = encode_digest(
            hmac_digest(secret, body, hashlib.sha256), backend.rest_signature_encoding
        )
        return f"{backend.rest_signature_prefix or ''}{digest}"


def _dumps(data):
    """The body bytes the shared client sends for ``json=data`` (it encodes
    with ``json.dumps`` and its defaults too)."""
    return json.dumps(data).encode()


class RestAdapter(GenericJsonAdapter):
    code = "rest"
    label = "REST"
    topics = {topic: topic for topic in CANONICAL_TOPICS}
    http_client_class = RestHttpClient

    @property
    def kept_headers(self):
        return (self.backend.rest_event_id_header or "").lower(), "x-request-id"

    def verify_signature(self, headers, body):
        backend = self.backend
        header = (backend.rest_signature_header or "").lower()
        prefix = backend.rest_signature_prefix or ""
        expected = [
            prefix
            + encode_digest(hmac_digest(secret, body), backend.rest_signature_encoding)
            for secret in backend._webhook_secrets()
        ]
        return any_digest_matches(expected, headers.get(header, "").strip())

    @property
    def event_id_headers(self):
        """The backend's event id header, then the generic one; the body's
        signed ``event_id`` wins over both (``GenericJsonAdapter.event_id``)."""
        header = (self.backend.rest_event_id_header or "").lower()
        return (
            (header, *super().event_id_headers) if header else super().event_id_headers
        )

    def external_reference(self, topic, payload):
        if isinstance(payload, dict):
            for key in ("external_id", "order_external_id", "picking_name", "location"):
                if payload.get(key):
                    return str(payload[key])
        return None

    # -- outbound -------------------------------------------------------------

    @property
    def max_batch_size(self):
        """The partner's limit of stock items a call (backend setting)."""
        return max(1, self.backend.rest_stock_batch_size or DEFAULT_BATCH_SIZE)

    def export_stock(self, items):
        """One call per ``max_batch_size`` items; results in the items' order."""
        client = self.http_client()
        results = []
        for batch in chunks(items, self.max_batch_size):
            answer = client.json(
                "POST",
                self.backend.rest_stock_path or "stock",
                topic="stock",
                json=stock_payload(batch),
            )
            results.extend(stock_results(batch, answer))
        return results

    def export_fulfillment(self, shipment):
        answer = self.http_client().json(
            "POST",
            self.backend.rest_fulfillment_path or "fulfillments",
            topic="fulfillment",
            json=shipment,
        )
        if not isinstance(answer, dict) or not isinstance(
            answer.get("external_id"), str | int | type(None)
        ):
            raise PermanentError(
                "The fulfillment answer is not an object with an external_id.",
                kind="invalid_response",
            )
        external_id = answer.get("external_id")
        return {"external_id": str(external_id) if external_id is not None else None}

    def pull_orders(self, updated_since):
        client = self.http_client()
        since = updated_since.strftime("%Y-%m-%dT%H:%M:%SZ")
        cursor = None
        for _page in range(MAX_PAGES):
            params = {"updated_since": since}
            if cursor:
                params["cursor"] = cursor
            answer = client.json(
                "GET",
                self.backend.rest_orders_path or "orders",
                topic="order_pull",
                params=params,
            )
            orders, next_cursor = pulled_canonical_orders(
                answer, "next_cursor", str | type(None)
            )
            yield from orders
            if not next_cursor or next_cursor == cursor:
                return
            cursor = next_cursor
        raise PermanentError(
            f"The order list did not end after {MAX_PAGES} pages.",
            kind="invalid_response",
        )
