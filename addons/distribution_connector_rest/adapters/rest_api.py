"""Calls to a REST partner, on the shared HTTP client: authenticated as its
backend says (bearer token, basic, or an HMAC of the exact body bytes in a
header of the partner's choice), digests encoded in hex or base64. The
payloads are the canonical objects: there is no mapping module.
"""

import base64
import hashlib
import json

from odoo.addons.distribution_connector.adapters.base import hmac_digest
from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.http_client import BackendHttpClient


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
