"""Webhook targets: URL syntax, and refusing private, loopback and link-local addresses."""

from __future__ import annotations

import asyncio

import pytest

from townhall.errors import UnprocessableContent
from townhall.platform.events.targets import (
    TargetRefused,
    check_target_addresses,
    check_target_addresses_sync,
    check_target_url,
)
from townhall.settings import Settings


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.gov.uk/townhall",
        "http://receiver.example:8080/path?x=1",
        "https://[2001:db8::1]/hook",
    ],
)
def test_urls_that_may_be_targets(url: str) -> None:
    assert check_target_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "https://"),
        ("file:///etc/passwd", "https://"),
        ("example.com/hook", "https://"),
        ("https:///nohost", "host"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://example.com/#frag", "fragment"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com:99999/", "cannot be read"),
        ("https://example.com:0/", "port"),
        ("https://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_urls_that_may_not_be_targets(url: str, why: str) -> None:
    with pytest.raises(UnprocessableContent, match=why):
        check_target_url(url)


def test_production_accepts_only_https(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(UnprocessableContent, match="https in production"):
        check_target_url("http://example.com/hook", production)
    assert check_target_url("https://example.com/hook", production)
    assert check_target_url("http://example.com/hook", settings)


REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.8.9.10:8000/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://localhost:9/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00::1]/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://100.64.0.1/", "not a public address"),
    ("http://[::ffff:127.0.0.1]/", "wraps 127.0.0.1"),
    ("http://[::ffff:169.254.169.254]/", "wraps 169.254.169.254"),
    ("http://[2002:c0a8:0101::1]/", "wraps 192.168.1.1"),
    ("http://[64:ff9b::a00:1]/", "wraps 10.0.0.1"),
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_private_addresses_are_refused(url: str, why: str) -> None:
    with pytest.raises(TargetRefused, match=why):
        check_target_addresses_sync(url, allow_private=False)
    with pytest.raises(TargetRefused, match=why):
        asyncio.run(check_target_addresses(url, allow_private=False))


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_private_addresses_are_allowed_when_the_setting_says_so(url: str, why: str) -> None:
    check_target_addresses_sync(url, allow_private=True)
    asyncio.run(check_target_addresses(url, allow_private=True))


@pytest.mark.parametrize(
    "url", ["https://8.8.8.8/", "https://[2001:4860:4860::8888]/", "https://1.1.1.1:8443/x"]
)
def test_public_addresses_are_accepted(url: str) -> None:
    check_target_addresses_sync(url, allow_private=False)
    asyncio.run(check_target_addresses(url, allow_private=False))


def test_a_host_that_does_not_resolve_is_refused() -> None:
    # .invalid never resolves (RFC 6761), and the resolver answers without asking the network.
    with pytest.raises(TargetRefused, match="cannot be resolved"):
        check_target_addresses_sync("https://nowhere.invalid/", allow_private=True)
    with pytest.raises(TargetRefused, match="cannot be resolved"):
        asyncio.run(check_target_addresses("https://nowhere.invalid/", allow_private=False))
