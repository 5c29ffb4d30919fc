"""Calls to the Selling Partner API, on the shared HTTP client: Login with
Amazon access tokens, restricted data tokens, the rate limit of each
operation, and what the Orders API answers hold.

Every call goes through ``BackendHttpClient`` (its call log, SSRF guard,
own throttle, retries and 429 handling), the token endpoint's included.
"""

import math
import threading
import time
from decimal import ROUND_FLOOR, Decimal

from odoo.addons.distribution_connector.adapters.tools import MAX_PAGES, stock_result
from odoo.addons.distribution_connector.errors import (
    PermanentError,
    RateLimitedError,
)
from odoo.addons.distribution_connector.http_client import BackendHttpClient

#: Selling Partner API endpoint of each region
REGION_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
#: a token is renewed this many seconds before Amazon says it expires
TOKEN_MARGIN = 60
#: the header in which every SP-API call carries its access token
TOKEN_HEADER = "x-amz-access-token"
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
ADDRESS_PATH = "/orders/v0/orders/{orderId}/address"

_lock = threading.Lock()
#: (database, backend id) -> (access token, expiry as time.time()); each
#: worker keeps its own, a token lives an hour
_access_tokens = {}
#: (database, backend id, operation) -> (requests per second, calls left
#: in the burst, when they were counted)
_operation_pace = {}
#: the burst of each operation's usage plan (the SP-API reference); Amazon
#: announces the rate in each answer, not the burst
BURSTS = {
    "getOrders": 20,
    "getOrderItems": 30,
    "getOrderAddress": 30,
    "createRestrictedDataToken": 10,
    "confirmShipment": 10,
    "getOrder": 20,
    "patchListingsItem": 10,
    "createFeedDocument": 15,
    "createFeed": 15,
    "getFeed": 15,
    "getFeedDocument": 10,
    "getReports": 10,
    "getReportDocument": 15,
    "getInventorySummaries": 2,
}


def _key(backend, *more):
    return (backend.env.cr.dbname, backend.id, *more)


def cached_tokens(backend):
    """The access tokens this worker holds for ``backend`` (to redact)."""
    with _lock:
        token = _access_tokens.get(_key(backend))
    return [token[0]] if token else []


def forget_token(backend):
    with _lock:
        _access_tokens.pop(_key(backend), None)


class LwaTokenClient(BackendHttpClient):
    """The token endpoint's calls: they carry no token themselves, and
    their bodies (credentials, tokens) are not logged."""

    log_bodies = False

    def auth_headers(self):
        return {}


class AmazonHttpClient(BackendHttpClient):
    """The shared client, with the Login with Amazon access token of the
    backend's refresh token, a fresh one once when Amazon says it expired,
    and each operation paced by the rate Amazon announced for it."""

    def access_token(self):
        key = _key(self.backend)
        with _lock:
            cached = _access_tokens.get(key)
        if cached and cached[1] > time.time():
            return cached[0]
        backend = self.backend
        client_id = backend._get_secret("api_key")
        client_secret = backend._get_secret("api_secret")
        refresh_token = backend._amazon_refresh_token()
        if not (client_id and client_secret and refresh_token):
            raise PermanentError(
                f"Backend {backend.name} needs the LWA client id (API key), "
                "client secret (API secret) and the refresh token of the "
                "seller's authorisation.",
                kind="configuration",
            )
        lwa = LwaTokenClient(backend, session=self.session, sleep=self.sleep)
        answer = lwa.json(
            "POST",
            backend.amazon_lwa_url or LWA_TOKEN_URL,
            topic="auth",
            form={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        token = answer.get("access_token") if isinstance(answer, dict) else None
        expires_in = answer.get("expires_in") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError(
                "Login with Amazon answered without an access token.",
                kind="invalid_response",
            )
        if not isinstance(expires_in, int) or isinstance(expires_in, bool):
            expires_in = 3600
        with _lock:
            _access_tokens[key] = (token, time.time() + expires_in - TOKEN_MARGIN)
        return token

    def auth_headers(self):
        return {TOKEN_HEADER: self.access_token()}

    def call(self, method, path, *, operation, topic, raw=False, **kwargs):
        """One SP-API operation; return its decoded JSON answer.

        :param operation: the operation's name (``getOrders``...): its rate
            limit is the one Amazon announced in ``x-amzn-RateLimit-Limit``
        """
        self._pace(operation)
        try:
            response = self.request(method, path, topic=topic, **kwargs)
        except PermanentError as err:
            if not _token_expired(err):
                raise
            # the token died before its announced expiry (revoked, clock
            # skew): one new token, one more try
            forget_token(self.backend)
            response = self.request(method, path, topic=topic, **kwargs)
        self._learn_rate(operation, response)
        if raw:
            return response
        try:
            return response.json()
        except ValueError as err:
            raise PermanentError(
                f"Amazon answered {operation} with something that is not JSON.",
                kind="invalid_response",
            ) from err

    def _pace(self, operation):
        """Wait for the operation's token bucket (Amazon's usage plans: a
        rate a second, refilling a burst); a wait longer than the client
        waits in place gives the job back to the runner."""
        key = _key(self.backend, operation)
        now = time.time()
        with _lock:
            rate, tokens, last = _operation_pace.get(key, (None, None, None))
            if not rate:
                return
            burst = BURSTS.get(operation, 1)
            tokens = min(burst, tokens + (now - last) * rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
            if wait <= self.max_inline_wait:
                _operation_pace[key] = (rate, tokens - 1, now)
        if wait > self.max_inline_wait:
            raise RateLimitedError(
                f"Amazon allows {rate:g} {operation} calls a second: next one "
                f"in {wait:.0f} s",
                retry_after=max(1, round(wait)),
            )
        if wait:
            self.sleep(wait)

    def _learn_rate(self, operation, response):
        """Start the operation's bucket at the rate Amazon announced
        (``x-amzn-RateLimit-Limit``), full minus this call."""
        try:
            rate = float(response.headers.get(RATE_LIMIT_HEADER) or 0)
        except ValueError:
            return
        if rate <= 0:
            return
        key = _key(self.backend, operation)
        with _lock:
            known = _operation_pace.get(key)
            if known and known[0] == rate:
                return
            _operation_pace[key] = (rate, BURSTS.get(operation, 1) - 1, time.time())


class TokensApiClient(AmazonHttpClient):
    """Tokens API calls: their answers are tokens, not logged."""

    log_bodies = False


def _token_expired(error):
    """True for Amazon's answer to an expired or revoked access token: 403
    with the ``Unauthorized`` error code."""
    return "HTTP 403" in error.message and "Unauthorized" in (error.details or "")


def payload_of(answer, operation, *keys):
    """The ``payload`` object of an Orders API v0 answer, checked to hold
    ``keys``."""
    payload = answer.get("payload") if isinstance(answer, dict) else None
    if not isinstance(payload, dict) or any(key not in payload for key in keys):
        raise PermanentError(
            f"Amazon answered {operation} without a payload holding {', '.join(keys)}.",
            kind="invalid_response",
        )
    return payload


def order_items(client, order_id, topic="reconcile"):
    """Every item of an order, following ``NextToken``."""
    path = f"/orders/v0/orders/{order_id}/orderItems"
    items, params = [], {}
    for _page in range(MAX_PAGES):
        payload = payload_of(
            client.call(
                "GET", path, operation="getOrderItems", topic=topic, params=params
            ),
            "getOrderItems",
            "OrderItems",
        )
        if not isinstance(payload["OrderItems"], list):
            raise PermanentError(
                "Amazon answered getOrderItems without a list.",
                kind="invalid_response",
            )
        items.extend(payload["OrderItems"])
        if not payload.get("NextToken"):
            return items
        params = {"NextToken": payload["NextToken"]}
    raise PermanentError(
        f"getOrderItems of {order_id} has more than {MAX_PAGES} pages.",
        kind="invalid_response",
    )


def restricted_data_token(client, path, data_elements=None):
    """A restricted data token for GET ``path`` (a path may name its order
    as ``{orderId}``: the token then serves every order)."""
    client = TokensApiClient(client.backend, session=client.session, sleep=client.sleep)
    resource = {"method": "GET", "path": path}
    if data_elements:
        resource["dataElements"] = list(data_elements)
    answer = client.call(
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        operation="createRestrictedDataToken",
        topic="auth",
        json={"restrictedResources": [resource]},
    )
    token = answer.get("restrictedDataToken") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise PermanentError(
            "Amazon answered createRestrictedDataToken without a token.",
            kind="invalid_response",
        )
    return token


def order_address(client, order_id, token):
    """The order's shipping address (``getOrderAddress``, restricted)."""
    payload = payload_of(
        client.call(
            "GET",
            ADDRESS_PATH.replace("{orderId}", order_id),
            operation="getOrderAddress",
            topic="reconcile",
            headers={TOKEN_HEADER: token},
        ),
        "getOrderAddress",
    )
    address = payload.get("ShippingAddress")
    return address if isinstance(address, dict) else None


#: the carriers Amazon's ``CarrierCode`` names as such (the Orders API's
#: carrier list); any other is sent as ``Other`` with its name
CARRIER_CODES = {
    code.lower(): code
    for code in (
        "Amazon Shipping",
        "Blue Package",
        "Canada Post",
        "Chronopost",
        "Colissimo",
        "DHL",
        "DHL Express",
        "DPD",
        "Deutsche Post",
        "FedEx",
        "GLS",
        "Hermes",
        "La Poste",
        "OnTrac",
        "Parcelforce",
        "Poste Italiane",
        "Royal Mail",
        "SEUR",
        "TNT",
        "UPS",
        "USPS",
    )
}


def package_detail(shipment, order_items_left):
    """The ``packageDetail`` of ``confirmShipment``: the carrier, tracking,
    ship date and the order items with the quantities still to confirm."""
    carrier = (shipment.get("carrier") or "").strip()
    code = CARRIER_CODES.get(carrier.lower(), "Other")
    reference = "".join(
        ch
        for ch in str(shipment.get("picking_name") or shipment.get("external_id") or "")
        if ch.isdigit()
    ).lstrip("0")
    detail = {
        # a positive number unique within the order (Amazon's rule)
        "packageReferenceId": reference or "1",
        "carrierCode": code,
        "trackingNumber": shipment.get("tracking_number") or "",
        "shipDate": shipment.get("shipped_at")
        or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "orderItems": [
            {"orderItemId": item_id, "quantity": quantity}
            for item_id, quantity in order_items_left
        ],
    }
    if code == "Other":
        detail["carrierName"] = carrier or "Other"
    if not detail["trackingNumber"]:
        del detail["trackingNumber"]
    return detail


def stock_quantity(quantity):
    """Amazon takes whole quantities: round down, never offer more than
    allowed. None when ``quantity`` is not a number."""
    if isinstance(quantity, bool) or not isinstance(quantity, int | float | Decimal):
        return None
    if not math.isfinite(quantity):
        return None
    return max(0, int(Decimal(str(quantity)).to_integral_value(rounding=ROUND_FLOOR)))


def availability_patch(quantity):
    """The ``patchListingsItem`` body setting the merchant-fulfilled
    quantity (``fulfillment_availability``, channel ``DEFAULT``)."""
    return {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [
                    {"fulfillment_channel_code": "DEFAULT", "quantity": quantity}
                ],
            }
        ],
    }


def listing_result(item, answer, quantity):
    """One ``export_stock`` result from a ``ListingsItemSubmissionResponse``."""
    if not isinstance(answer, dict) or answer.get("status") not in (
        "ACCEPTED",
        "INVALID",
        "VALID",
    ):
        raise PermanentError(
            "Amazon answered patchListingsItem without a submission status.",
            kind="invalid_response",
        )
    errors = [
        issue
        for issue in answer.get("issues") or []
        if isinstance(issue, dict) and issue.get("severity") == "ERROR"
    ]
    if answer["status"] == "ACCEPTED" and not errors:
        return stock_result(item, "ok", quantity)
    message = (
        "; ".join(f"{issue.get('code')}: {issue.get('message')}" for issue in errors)
        or f"Amazon answered {answer['status']}."
    )
    return stock_result(item, "error", None, message)
