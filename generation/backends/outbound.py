"""What may leave a worker for an OpenAI-compatible endpoint, decided at the last hop (no Django import).

A researcher registers the endpoint URL, so the worker must not become their way into the network it
sits on (SSRF) nor a way to mail its secrets elsewhere:

- Addresses: every address the host resolves to is checked, and the connection goes to one of those
  checked addresses (no second lookup that DNS rebinding could answer differently). Loopback, private,
  shared (100.64/10) and unique-local addresses are refused unless the deployment allows private
  endpoints; link-local addresses (where cloud metadata services answer), multicast, unspecified and
  reserved ones always are. An IPv6 address that embeds an IPv4 one (mapped, 6to4, Teredo, NAT64) is
  judged by both.
- Redirects are never followed: a 3xx is the request's error, so the key never travels to a second URL.
- Headers: only the body's own headers and the configured key go out. Whatever the SDK picks up from its
  environment (OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_CUSTOM_HEADERS with its own Authorization, ...)
  and its platform fingerprint (X-Stainless-*) are dropped here.
- Every attempt, the SDK's retries included, first waits for the endpoint's shared rate limit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlsplit

import httpcore2
import httpx2
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

# Request headers that may leave; everything else the SDK set is dropped (see the module docstring).
PASSED_HEADERS = frozenset({"host", "content-type", "content-length", "accept", "accept-encoding", "connection", "user-agent"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; also cluster overlays
REASON_CHARS = 120


class EndpointRefused(Exception):
    """The endpoint may not be contacted (scheme, credentials in the URL, or an address it resolves to)."""


def _judged(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses to judge for `ip`: an IPv4-mapped address is its IPv4 address on the wire; 6to4, Teredo
    and NAT64 addresses reach the IPv4 address they embed, so both are judged."""
    if ip.version == 4:
        return [ip]
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    inner = [ip.sixtofour, ip.teredo[1] if ip.teredo else None,
             ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None]
    return [*(address for address in inner if address is not None), ip]


def address_problem(address: str, *, allow_private: bool) -> str | None:
    """Why the worker may not connect to this IP address, or None when it may."""
    for ip in _judged(ipaddress.ip_address(address.split("%", 1)[0])):
        if ip.is_link_local:
            return f"{address} is a link-local address (cloud metadata services answer there)"
        if ip.is_multicast or ip.is_unspecified:
            return f"{address} is not a unicast host address"
        if ip.is_global:
            continue
        if ip.is_loopback or ip.is_private or (ip.version == 4 and ip in SHARED_ADDRESS_SPACE):
            if allow_private:
                continue
            kind = "a loopback" if ip.is_loopback else "a private"
            return f"{address} is {kind} address (set LIMA_ALLOW_PRIVATE_ENDPOINTS to allow private endpoints)"
        return f"{address} is not a public address"
    return None


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, all of them allowed; EndpointRefused names the first that is not."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            raise EndpointRefused(f"{host} resolves to {problem}" if address != host else problem)
    return addresses


def endpoint_url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why a base URL may not be registered, or None. A host that does not resolve here is accepted: the
    worker checks it again, address by address, when it connects."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "an http:// or https:// base URL, e.g. https://host:8000/v1"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        return "credentials do not belong in the URL; name the variable holding the key instead"
    try:
        checked_addresses(parts.hostname, port, allow_private=allow_private)
    except EndpointRefused as exc:
        return str(exc)
    except (socket.gaierror, UnicodeError):
        return None
    return None


class GuardedNetwork(httpcore2.SyncBackend):
    """httpcore's socket backend, connecting only to checked addresses (see the module docstring)."""

    def __init__(self, *, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = checked_addresses(host, port, allow_private=self.allow_private)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        raise failure  # type: ignore[misc]


_STORAGES: dict[str, object] = {}


class SharedRateLimit:
    """At most `per_minute` requests to one endpoint in any rolling minute, counted in storage that every
    worker process shares (Redis in production), so N workers do not send N times the rate."""

    def __init__(self, *, per_minute: int, endpoint_key: str, storage_uri: str,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        if storage_uri not in _STORAGES:
            _STORAGES[storage_uri] = storage_from_string(storage_uri)
        self.limiter = MovingWindowRateLimiter(_STORAGES[storage_uri])
        self.item = RateLimitItemPerMinute(max(1, per_minute))
        self.identifiers = ("lima-endpoint", endpoint_key)
        self.sleep, self.clock = sleep, clock

    def wait(self) -> None:
        while not self.limiter.hit(self.item, *self.identifiers):
            reset_at = self.limiter.get_window_stats(self.item, *self.identifiers).reset_time
            self.sleep(min(60.0, max(0.05, reset_at - self.clock())))


def endpoint_key(base_url: str, served_model_name: str) -> str:
    """One rate count per (endpoint, model name), whichever registered model and worker uses it."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{served_model_name}".encode()).hexdigest()[:24]


class GuardedTransport(httpx2.HTTPTransport):
    """The only way out for the OpenAI SDK: checked addresses, allowed headers, the shared rate limit."""

    def __init__(self, *, api_key: str, allow_private: bool, rate_limit: SharedRateLimit | None):
        super().__init__(trust_env=False)
        # httpx builds its pool without a way to pass a network backend; this pool is the same but for the
        # backend (httpx2 and httpcore2 are pinned in pyproject.toml).
        self._pool = httpcore2.ConnectionPool(ssl_context=httpx2.create_ssl_context(trust_env=False),
                                              network_backend=GuardedNetwork(allow_private=allow_private))
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.attempts = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        for name in [name for name in request.headers if name.lower() not in PASSED_HEADERS]:
            del request.headers[name]
        if self.api_key:
            request.headers["Authorization"] = f"Bearer {self.api_key}"
        if self.rate_limit is not None:
            self.rate_limit.wait()
        self.attempts += 1
        return super().handle_request(request)


def short_reason(status: int, body: object) -> str:
    """`HTTP 400 Bad Request`, plus the message of an OpenAI- or vLLM-style error object, on one line and
    short. Nothing else of a body is shown: a run page must not become a window on what an URL returns."""
    try:
        reason = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        reason = f"HTTP {status}"
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = error["message"]
        elif body.get("object") == "error" and isinstance(body.get("message"), str):
            message = body["message"]
    return f"{reason}: {short_text(message)}" if message else reason


def short_text(text: str) -> str:
    """One printable line of at most REASON_CHARS characters."""
    flat = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    return flat if len(flat) <= REASON_CHARS else flat[:REASON_CHARS - 1] + "…"


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url
