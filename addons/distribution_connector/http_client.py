"""One HTTP client for every adapter.

* a ``requests`` session per backend, explicit connect/read timeouts;
* a per-backend token bucket shared by every Odoo worker
  (``distribution.backend.throttle``);
* 429/503 with ``Retry-After``: wait that long (short delays in place,
  longer ones raise ``RateLimitedError`` so the job is postponed);
* 5xx and timeouts: retry with exponential backoff and jitter, then
  ``TransientError``;
* other 4xx: ``PermanentError`` with a short status line; the answer itself
  (secrets redacted) is kept for managers only, on the call's log and in the
  error's details;
* outbound URLs only https to public addresses, unless the backend allows
  private networks (an on-premise WMS, tests); the host is resolved once and
  the call connects to the address that was checked;
* answers read up to a size limit (``response_max_bytes``);
* every call logged (``distribution.call.log``) with status and duration, in
  its own transaction so that the log survives a job that rolls back.
"""

import ipaddress
import json as jsonlib
import logging
import random
import socket
import time
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from .errors import PermanentError, RateLimitedError, TransientError
from .tools.settings import setting

_logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 503}
#: largest error answer kept in an error's details
MAX_ERROR_DETAILS = 2000
#: largest answer read, unless the server's ``response_max_bytes`` says
#: otherwise
DEFAULT_RESPONSE_MAX_BYTES = 10 * 1024 * 1024
#: bytes read from an answer at a time (decoded, a chunk may grow: a
#: compressed answer is counted as it is decompressed)
READ_CHUNK = 16 * 1024

#: IPv6 ranges that carry an IPv4 address, or reach one through a
#: translator or a tunnel: what they reach may be private whatever the IPv6
#: address looks like (Python even calls NAT64 addresses global), so they
#: are refused whatever they embed.
IPV4_CARRYING_NETWORKS = (
    (ipaddress.ip_network("::ffff:0:0/96"), "an IPv4-mapped IPv6 address"),
    (ipaddress.ip_network("::/96"), "an IPv4-compatible IPv6 address"),
    (ipaddress.ip_network("64:ff9b::/96"), "a NAT64 address"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (ipaddress.ip_network("2002::/16"), "a 6to4 address"),
    (ipaddress.ip_network("2001::/32"), "a Teredo address"),
)


def response_max_bytes():
    """Largest answer, in bytes, an outbound call reads (server setting)."""
    return int(setting("response_max_bytes") or DEFAULT_RESPONSE_MAX_BYTES)


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


def non_public_reason(address):
    """Why ``address`` is not a public one to call, or None when it is."""
    if address.version == 6:
        for network, what in IPV4_CARRYING_NETWORKS:
            if address in network:
                return f"{what}, which may reach a private IPv4 address"
        if address.is_site_local:
            return "a site-local address"
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global:
        return "a non-public address"
    return None


def resolve(host, port, allow_private_network=False):
    """The addresses to connect to for ``host``, in the resolver's order:
    resolved here, once.

    Without private networks, every address the name resolves to must be
    public (a name with one private address is refused).
    """
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise TransientError(f"Cannot resolve {host}: {err}") from err
    # as the resolver wrote them (Python writes some IPv6 forms otherwise)
    found = [(info[4][0], ipaddress.ip_address(info[4][0])) for info in infos]
    if not found:
        raise TransientError(f"Cannot resolve {host}: no address.")
    if not allow_private_network:
        for text, address in found:
            reason = non_public_reason(address)
            if reason:
                raise PermanentError(
                    f"Outbound URL {host} resolves to {text}, {reason}: "
                    "refused unless the backend allows private networks.",
                    kind="configuration",
                )
    return [address for _text, address in found]


def _phrase(status):
    """' Not Found' for 404: our own words for a status, never the other
    side's."""
    try:
        return f" {HTTPStatus(status).phrase}"
    except ValueError:
        return ""


def _not_connected(err):
    """Whether a ``requests`` connection error happened while connecting,
    before anything was sent."""
    reason = getattr(err.args[0] if err.args else None, "reason", None)
    return isinstance(reason, ConnectTimeoutError)


class ResponseTooLarge(Exception):
    """An answer longer than the client reads."""


class _CappedBody:
    """An answer's body (``urllib3`` response) that stops after ``limit``
    bytes: ``requests`` reads it through ``stream``."""

    def __init__(self, raw, limit):
        self._raw = raw
        self._limit = limit

    def stream(self, amt=READ_CHUNK, decode_content=None):
        size = 0
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            size += len(chunk)
            if size > self._limit:
                # the rest is never read: the connection cannot be reused
                self._raw.close()
                raise ResponseTooLarge(self._limit)
            yield chunk

    def __getattr__(self, name):
        return getattr(self._raw, name)


class _ServerNameAdapter(HTTPAdapter):
    """HTTPS to an address, presenting (SNI) and verifying the certificate
    of ``server_name``."""

    def __init__(self, server_name):
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args, **pool_kwargs):
        pool_kwargs["server_hostname"] = self.server_name
        return super().init_poolmanager(*args, **pool_kwargs)


class PinnedAddressAdapter(HTTPAdapter):
    """Connects each call to the address its host was checked at.

    ``requests`` resolves the host again when it connects: a second answer
    of the DNS (rebinding) would send the call to an address the check
    never saw. Here the host is resolved once, checked, and the connection
    goes to that address, while the Host header, TLS SNI and certificate
    verification keep the host name. No proxy is used: through one, the
    proxy would resolve the host itself.
    """

    def __init__(self, allow_private_network=False):
        self.allow_private_network = allow_private_network
        self._tls = {}  # host name -> adapter whose pools present that name
        super().__init__()

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port, self.allow_private_network)
        name = f"[{host}]" if ":" in host else host
        kwargs["proxies"] = None
        for index, address in enumerate(addresses, 1):
            literal = str(address).replace("%", "%25")
            if address.version == 6:
                literal = f"[{literal}]"
            pinned = request.copy()
            pinned.url = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
            pinned.headers["Host"] = f"{name}:{parts.port}" if parts.port else name
            try:
                if parts.scheme == "https":
                    adapter = self._tls.get(host)
                    if adapter is None:
                        adapter = self._tls[host] = _ServerNameAdapter(host)
                    response = adapter.send(pinned, **kwargs)
                else:
                    response = super().send(pinned, **kwargs)
            except requests.ConnectionError as err:
                # as requests does with the addresses of a name: the next
                # one, when this one could not even be connected to (nothing
                # was sent)
                if index < len(addresses) and _not_connected(err):
                    continue
                raise
            response.request = request
            response.url = request.url
            return response

    def close(self):
        for adapter in self._tls.values():
            adapter.close()
        self._tls.clear()
        return super().close()


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
    #: False for calls whose bodies carry credentials (token endpoints):
    #: their log keeps the status, not the bodies
    log_bodies = True

    def __init__(self, backend, session=None, sleep=time.sleep):
        self.backend = backend
        self.session = session or requests.Session()
        adapter = PinnedAddressAdapter(backend.allow_private_network)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.sleep = sleep
        self.timeout = Timeout(backend.http_connect_timeout, backend.http_read_timeout)
        self.max_response_bytes = response_max_bytes()

    # -- public API --------------------------------------------------------

    def request(
        self, method, path, *, topic, json=None, params=None, headers=None, form=None
    ):
        """Send one logical call; return the ``requests.Response`` (2xx/3xx).

        :param topic: what the call is for (``stock``, ``fulfillment``...),
            kept on the call's log
        :param form: a dict sent form-encoded instead of a JSON body (OAuth
            token endpoints take only that)
        """
        url = self._url(path)
        body = jsonlib.dumps(json) if json is not None else None
        all_headers = {"Accept": "application/json", **self.auth_headers()}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
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
                    stream=True,
                )
                self._read_body(response)
            except (requests.Timeout, requests.ConnectionError) as err:
                duration = time.monotonic() - started
                message = f"{method} {self._safe(url)}: {type(err).__name__}"
                self._log(topic, method, url, body, None, duration, message)
                if attempt < self.max_attempts:
                    self.sleep(self._backoff(attempt))
                    continue
                raise TransientError(message) from err
            except ResponseTooLarge as err:
                duration = time.monotonic() - started
                message = (
                    f"{method} {self._safe(url)}: HTTP {response.status_code}: the "
                    f"answer is larger than {self.max_response_bytes} bytes, the "
                    "most an outbound call reads (server setting "
                    "response_max_bytes): refused."
                )
                self._log(
                    topic,
                    method,
                    url,
                    body,
                    None,
                    duration,
                    message,
                    status=response.status_code,
                )
                raise PermanentError(message, kind="permanent") from err
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
                # what the other side answered may quote data or internals:
                # kept for managers (the call's log, the error's details),
                # never in the message that users read
                message = f"{method} {self._safe(url)}: HTTP {status}{_phrase(status)}"
                log_id = self._log(
                    topic, method, url, body, response, duration, message
                )
                if log_id:
                    message += f" (answer kept on HTTP call #{log_id})"
                raise PermanentError(
                    message,
                    kind="permanent",
                    details=self.backend._redact(response.text[:MAX_ERROR_DETAILS]),
                )
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
        scheme = urlsplit(url).scheme
        if scheme != "https" and not self.backend.allow_private_network:
            raise PermanentError(
                f"Outbound URL {scheme}://{urlsplit(url).hostname} refused: only "
                "https is allowed (allow private networks on the backend for a "
                "local server).",
                kind="configuration",
            )
        return url

    def _read_body(self, response):
        """Read the answer, at most ``max_response_bytes`` of it."""
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise ResponseTooLarge(limit)
        response.raw = _CappedBody(response.raw, limit)
        return response.content

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

    def _log(self, topic, method, url, body, response, duration, error, status=0):
        """One call log per HTTP call, in its own transaction; return its id
        (None when it could not be stored)."""
        backend = self.backend
        return (
            backend.env["distribution.call.log"]
            .sudo()
            ._log_call(
                backend,
                {
                    "topic": topic,
                    "method": method,
                    "path": backend._redact(urlsplit(url).path),
                    "request_body": (body if self.log_bodies else None) or False,
                    "response_body": (
                        response.text
                        if response is not None and self.log_bodies
                        else False
                    ),
                    "state": "error" if error else "done",
                    "error": error or False,
                    "response_status": (
                        response.status_code if response is not None else status
                    ),
                    "duration_ms": int(duration * 1000),
                },
            )
        )
