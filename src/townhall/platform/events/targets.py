"""Which URLs webhooks may be sent to: the syntax of a target, and the addresses it reaches.

This module owns the server-side request forgery (SSRF) policy of webhooks. ``check_target_url``
judges the URL's text when a subscription is made or changed. ``check_target_addresses`` resolves
its host and refuses it if any address it resolves to is not a public (global) one: private,
loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved, unspecified, or an
IPv6 form wrapping one of those (IPv4-mapped, 6to4, NAT64). Subscriptions are checked when made
and the dispatcher checks again before each delivery, since DNS may have changed in between
(docs/adr/0023-webhook-secrets-and-targets.md notes the window that leaves).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from townhall.errors import UnprocessableContent
from townhall.settings import Environment, Settings

MAX_URL_LENGTH = 2048
_SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """A target's host resolves to an address webhooks may not be sent to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_target_url(url: str, settings: Settings | None = None) -> str:
    """``url`` if it may be a webhook target; ``UnprocessableContent`` saying why otherwise.

    In production (``settings.environment``) only ``https`` is accepted.
    """
    if len(url) > MAX_URL_LENGTH:
        msg = f"The target URL is longer than {MAX_URL_LENGTH} characters."
        raise UnprocessableContent(msg)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        msg = "The target URL may not contain spaces or control characters."
        raise UnprocessableContent(msg)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        msg = f"The target URL cannot be read: {exc}."
        raise UnprocessableContent(msg) from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        msg = "The target URL must start with https:// (or http:// outside production)."
        raise UnprocessableContent(msg)
    production = settings is not None and settings.environment == Environment.PRODUCTION
    if production and scheme != "https":
        msg = "The target URL must use https in production."
        raise UnprocessableContent(msg)
    if parts.username is not None or parts.password is not None:
        msg = "The target URL may not carry a user name or password; the signature is the proof."
        raise UnprocessableContent(msg)
    if not parts.hostname:
        msg = "The target URL must name a host."
        raise UnprocessableContent(msg)
    if parts.fragment or url.endswith("#"):
        msg = "The target URL may not have a fragment (#...): it is never sent to the server."
        raise UnprocessableContent(msg)
    if port == 0:
        msg = "The target URL's port must be between 1 and 65535."
        raise UnprocessableContent(msg)
    return url


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address``, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = refusal(embedded)
            return None if why is None else f"{address} wraps {embedded}: {why}"
    for flag, why in (
        ("is_unspecified", "is unspecified"),
        ("is_loopback", "is a loopback address"),
        ("is_link_local", "is a link-local address"),
        ("is_multicast", "is a multicast address"),
        # Before is_private, which also counts 240.0.0.0/4 (reserved) as private.
        ("is_reserved", "is a reserved address"),
        ("is_private", "is a private address"),
    ):
        if getattr(address, flag):
            return f"{address} {why}"
    if not address.is_global:
        # Shared address space (100.64.0.0/10) and the like: not private, not global either.
        return f"{address} is not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host_and_port(url: str) -> tuple[str, int]:
    parts: SplitResult = urlsplit(url)
    host = parts.hostname
    if not host:
        msg = f"the target {url!r} names no host"
        raise TargetRefused(msg)
    return host, parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _judge(host: str, addresses: list[str], *, allow_private: bool) -> None:
    if not addresses:
        msg = f"{host} resolves to no address"
        raise TargetRefused(msg)
    if allow_private:
        return
    for text in addresses:
        # Scoped IPv6 addresses come back as fe80::1%eth0.
        why = refusal(ipaddress.ip_address(text.split("%", 1)[0]))
        if why is not None:
            msg = f"{host} resolves to {why}"
            raise TargetRefused(msg)


def _addresses(infos: list[tuple[object, ...]]) -> list[str]:
    found: list[str] = []
    for info in infos:
        sockaddr = info[4]
        if isinstance(sockaddr, tuple) and sockaddr and isinstance(sockaddr[0], str):
            found.append(sockaddr[0])
    return found


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_target_addresses_sync(url: str, *, allow_private: bool) -> None:
    """Resolve ``url``'s host; ``TargetRefused`` if any address it has may not be a target."""
    host, port = _host_and_port(url)
    literal = _literal(host)
    if literal is not None:
        _judge(host, [str(literal)], allow_private=allow_private)
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        msg = f"{host} cannot be resolved: {exc}"
        raise TargetRefused(msg) from exc
    _judge(host, _addresses(list(infos)), allow_private=allow_private)


async def check_target_addresses(url: str, *, allow_private: bool) -> None:
    """As ``check_target_addresses_sync``, resolving in the event loop's resolver."""
    host, port = _host_and_port(url)
    literal = _literal(host)
    if literal is not None:
        _judge(host, [str(literal)], allow_private=allow_private)
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        msg = f"{host} cannot be resolved: {exc}"
        raise TargetRefused(msg) from exc
    _judge(host, _addresses(list(infos)), allow_private=allow_private)
