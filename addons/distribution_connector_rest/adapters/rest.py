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
  "message"}]}`` (status ok, mismatch or error); with a stock changes
  endpoint, the quantities published before go there as changes:
  ``POST <stock changes endpoint>`` ``{"items": [{"sku", "change"}]}`` -> the
  same results, ``actual_quantity`` the partner's number after the change;
* fulfillment: ``POST <fulfillment endpoint>`` with a canonical shipment ->
  ``{"external_id": "..."}``;
* order pull: ``GET <orders endpoint>?updated_since=<RFC 3339>&cursor=<c>`` ->
  ``{"orders": [<canonical order>...], "next_cursor": "..." | null}``.
"""

from odoo.addons.distribution_connector.adapters.base import (
    any_digest_matches,
    hmac_digest,
)
from odoo.addons.distribution_connector.adapters.generic_json import (
    CANONICAL_KINDS,
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

from .rest_api import RestHttpClient, encode_digest

#: every canonical object but settlements
CANONICAL_TOPICS = tuple(kind for kind in CANONICAL_KINDS if kind != "settlement")
#: stock items a call carries when the backend does not say
DEFAULT_BATCH_SIZE = 250


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

    @property
    def stock_update_mode(self):
        """``delta`` when the backend has a stock changes endpoint (the
        partner adds a change to its own number), else compare-and-set."""
        return "delta" if self.backend.rest_stock_change_path else "compare"

    def export_stock(self, items):
        """One call per ``max_batch_size`` items; results in the items' order.

        With a stock changes endpoint, the items published before (they have
        a ``compare_quantity``) go there as their ``change``; the others, and
        every item without that endpoint, go to the stock endpoint.
        """
        client = self.http_client()
        changes_path = self.backend.rest_stock_change_path
        results = [None] * len(items)
        as_change = [
            bool(changes_path) and item.get("compare_quantity") is not None
            for item in items
        ]
        for change in (False, True):
            indexes = [i for i, flag in enumerate(as_change) if flag is change]
            for batch in chunks(indexes, self.max_batch_size):
                batch_items = [items[i] for i in batch]
                answer = client.json(
                    "POST",
                    changes_path if change else self.backend.rest_stock_path or "stock",
                    topic="stock",
                    json=(
                        stock_change_payload(batch_items)
                        if change
                        else stock_payload(batch_items)
                    ),
                )
                checked = stock_results(batch_items, answer)
                for index, result in zip(batch, checked, strict=True):
                    results[index] = result
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


def stock_change_payload(items):
    """The body of a call to the stock changes endpoint."""
    return {"items": [{"sku": item["sku"], "change": item["change"]} for item in items]}
