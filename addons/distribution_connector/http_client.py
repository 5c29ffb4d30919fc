"""One HTTP client for every adapter.

* a ``requests`` session per backend, explicit connect/read timeouts;
* a per-backend token bucket shared by every Odoo worker
  (``distribution.backend.throttle``);
* 429/503 with ``Retry-After``: wait that long (short delays in place,
  longer ones raise ``RateLimitedError`` so the job is postponed);
* 5xx and timeouts: retry with exponential backoff and jitter, then
  ``TransientError``;
* other 4xx: ``PermanentError`` carrying the response body, secrets redacted;
* outbound URLs only https to public addresses, unless the backend allows
  private networks (an on-premise WMS, tests);
* every call logged as an outbound exchange with status and duration, in its
  own transaction so that the log survives a job that rolls back.
"""

import ipaddress
import json as jsonlib
import logging
import random
import socket
import time
import uuid
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

from .errors import PermanentError, RateLimitedError, TransientError

_logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 503}
MAX_LOGGED_BODY = 64 * 1024


def retry_after_seconds(value, default=None):
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return default
    if value.strip().replace(".", "", 1).isdigit():
        return max(0.0, float(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, moment.timestamp() - time.time())


def check_public_url(url):
    """Refuse anything but https to public addresses."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise PermanentError(
            f"Outbound URL {parts.scheme}://{parts.hostname} refused: only https "
            "is allowed (allow private networks on the backend for a local "
            "server).",
            kind="configuration",
        )
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443)
    except socket.gaierror as err:
        raise TransientError(f"Cannot resolve {parts.hostname}: {err}") from err
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise PermanentError(
                f"Outbound URL {parts.hostname} resolves to the non-public "
                f"address {address}: refused unless the backend allows private "
                "networks.",
                kind="configuration",
            )


class Timeout(tuple):
    """(connect, read) timeouts for ``requests``, comparable with a number
    (the longer of both) for callers that expect a single timeout."""

    def __new__(cls, connect, read):
        return super().__new__(cls, (connect, read))

    def __lt__(self, other):
        if isinstance(other, (int, float)):
            return max(self) < other
        return super().__lt__(other)


class BackendHttpClient:
    """HTTP calls of one backend. Build it with ``backend._http_client()``."""

    #: retries in place for 5xx/timeouts before giving the job back
    max_attempts = 3
    #: longest Retry-After waited in place; longer ones postpone the job
    max_inline_wait = 10.0
    #: base of the exponential backoff, seconds
    backoff = 0.5

    def __init__(self, backend, session=None, sleep=time.sleep):
        self.backend = backend
        self.session = session or requests.Session()
        self.sleep = sleep
        self.timeout = Timeout(backend.http_connect_timeout, backend.http_read_timeout)

    # -- public API --------------------------------------------------------

    def request(self, method, path, *, topic, json=None, params=None, headers=None):
        """Send one logical call; return the ``requests.Response`` (2xx/3xx).

        :param topic: what the call is for (``stock``, ``fulfillment``...),
            kept on the outbound exchange
        """
        url = self._url(path)
        body = jsonlib.dumps(json) if json is not None else None
        all_headers = {"Accept": "application/json", **self.auth_headers()}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        attempt = 0
        while True:
            attempt += 1
            self._throttle()
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers=all_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.Timeout, requests.ConnectionError) as err:
                duration = time.monotonic() - started
                message = f"{method} {self._safe(url)}: {type(err).__name__}"
                self._log(topic, method, url, body, None, duration, message)
                if attempt < self.max_attempts:
                    self.sleep(self._backoff(attempt))
                    continue
                raise TransientError(message) from err
            duration = time.monotonic() - started
            status = response.status_code
            if status in RETRY_STATUSES:
                wait = retry_after_seconds(
                    response.headers.get("Retry-After"), self._backoff(attempt)
                )
                message = f"{method} {self._safe(url)}: HTTP {status}"
                self._log(topic, method, url, body, response, duration, message)
                if wait <= self.max_inline_wait and attempt < self.max_attempts:
                    self.sleep(wait)
                    continue
                raise RateLimitedError(message, retry_after=max(1, round(wait)))
            if status >= 500:
                message = f"{method} {self._safe(url)}: HTTP {status}"
                self._log(topic, method, url, body, response, duration, message)
                if attempt < self.max_attempts:
                    self.sleep(self._backoff(attempt))
                    continue
                raise TransientError(message)
            if status >= 400:
                message = (
                    f"{method} {self._safe(url)}: HTTP {status}: "
                    f"{self.backend._redact(response.text[:2000])}"
                )
                self._log(topic, method, url, body, response, duration, message)
                raise PermanentError(message, kind="permanent")
            self._log(topic, method, url, body, response, duration, None)
            return response

    def json(self, method, path, *, topic, **kwargs):
        """``request`` and decode a JSON answer (malformed -> PermanentError)."""
        response = self.request(method, path, topic=topic, **kwargs)
        try:
            return response.json()
        except ValueError as err:
            raise PermanentError(
                f"{method} {self._safe(response.url)} answered something that is "
                "not JSON.",
                kind="permanent",
            ) from err

    def auth_headers(self):
        """Authentication headers; adapters override (bearer by default)."""
        token = self.backend._get_secret("api_secret")
        return {"Authorization": f"Bearer {token}"} if token else {}

    # -- internals -----------------------------------------------------------

    def _url(self, path):
        if path.startswith(("http://", "https://")):
            url = path
        else:
            base = (self.backend.api_base_url or "").rstrip("/") + "/"
            if base == "/":
                raise PermanentError(
                    f"Backend {self.backend.name} has no API base URL.",
                    kind="configuration",
                )
            url = urljoin(base, path.lstrip("/"))
        if not self.backend.allow_private_network:
            check_public_url(url)
        return url

    def _throttle(self):
        backend = self.backend
        if backend.rate_limit_per_second <= 0:
            return
        taken, wait = (
            backend.env["distribution.backend.throttle"]
            .sudo()
            ._take(
                backend,
                backend.rate_limit_per_second,
                max(1, backend.rate_limit_burst),
                self.max_inline_wait,
            )
        )
        if not taken:
            raise RateLimitedError(
                f"Own rate limit of {backend.name}: next slot in {wait:.0f} s",
                retry_after=max(1, round(wait)),
            )
        if wait:
            self.sleep(wait)

    def _backoff(self, attempt):
        """Exponential backoff with full jitter."""
        return random.uniform(0, self.backoff * (2 ** (attempt - 1)))

    def _safe(self, url):
        return self.backend._redact(url.split("?", 1)[0])

    def _log(self, topic, method, url, body, response, duration, error):
        """One outbound exchange per HTTP call, in its own transaction."""
        backend = self.backend
        response_text = response.text[:MAX_LOGGED_BODY] if response is not None else ""
        values = {
            "backend_id": backend.id,
            "direction": "out",
            "topic": topic,
            "kind": f"{method} {urlsplit(url).path}",
            "external_event_id": uuid.uuid4().hex,
            "content_type": "application/json",
            "raw_body": backend._redact(body) if body else False,
            "response_body": backend._redact(response_text) or False,
            "state": "error" if error else "done",
            "error": error or False,
            "response_status": response.status_code if response is not None else 0,
            "duration_ms": int(duration * 1000),
            "attempts": 1,
            "call_log": True,
        }
        try:
            with backend.env.registry.cursor() as cr:
                env = backend.env(cr=cr, su=True)
                env["distribution.exchange"].create(
                    {**values, "processed_at": env.cr.now()}
                )
        except Exception:
            _logger.exception("Could not log an outbound call of %s", backend.name)
