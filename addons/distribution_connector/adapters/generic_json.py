"""Generic JSON adapter: partners that send our canonical JSON themselves.

Signature: ``X-Distribution-Signature: sha256=<hex HMAC-SHA256 of the raw
body with the webhook secret>``. Event id: ``X-Distribution-Event-Id``, else
the payload's ``event_id``, else a digest of the body.
"""

from .base import DistributionAdapter, any_digest_matches, hmac_digest, register_adapter

SIGNATURE_HEADER = "x-distribution-signature"
EVENT_ID_HEADER = "x-distribution-event-id"


def sign(secret, body):
    """Header value a sender puts in ``X-Distribution-Signature``."""
    return "sha256=" + hmac_digest(secret, body).hex()


@register_adapter
class GenericJsonAdapter(DistributionAdapter):
    code = "generic_json"
    label = "Generic JSON"
    topics = {
        "order": "order",
    }
    kept_headers = (EVENT_ID_HEADER,)

    def verify_signature(self, headers, body):
        given = headers.get(SIGNATURE_HEADER, "")
        expected = [sign(secret, body) for secret in self.backend._webhook_secrets()]
        return any_digest_matches(expected, given.strip())

    def event_id(self, topic, headers, payload, body):
        event_id = headers.get(EVENT_ID_HEADER)
        if not event_id and isinstance(payload, dict):
            event_id = payload.get("event_id")
        return (
            str(event_id)
            if event_id
            else super().event_id(topic, headers, payload, body)
        )

    def external_reference(self, topic, payload):
        if isinstance(payload, dict) and payload.get("external_id") is not None:
            return str(payload["external_id"])
        return None

    def to_canonical(self, kind, payload):
        if isinstance(payload, dict):
            payload = dict(payload)
            payload.pop("event_id", None)
        return payload
