"""Outbound safety: the form of webhook URLs and the addresses they may resolve to."""

import ipaddress

import pytest

from services.notifier.domain.errors import UnsafeTarget
from services.notifier.domain.targets import check_addresses, check_url, refusal


def test_production_calls_https_only() -> None:
    assert check_url("https://case.example.no/hooks", production=True).port == 443
    with pytest.raises(UnsafeTarget) as refused:
        check_url("http://case.example.no/hooks", production=True)
    assert refused.value.code == "scheme"
    assert check_url("http://case.example.no:8080/x", production=False).port == 8080


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://case.example.no/", "scheme"),
        ("https://user:pw@case.example.no/", "credentials"),
        ("https:///nohost", "malformed"),
        ("https://case.example.no/#part", "malformed"),
        ("https://case.example.no:99999/", "malformed"),
        ("https://case.example.no/" + "a" * 2000, "too_long"),
    ],
)
def test_urls_of_an_unacceptable_form_are_refused(url: str, code: str) -> None:
    with pytest.raises(UnsafeTarget) as refused:
        check_url(url, production=False)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.5", "private"),
        ("100.64.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 -- an address checked, not bound
        ("240.0.0.1", "reserved"),
        ("8.8.8.8", None),
        ("2a00:1450:4010::1", None),
    ],
)
def test_internal_addresses_are_refused(address: str, why: str | None) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=False) == why


def test_the_setting_allows_private_and_loopback_but_never_link_local_or_multicast() -> None:
    for allowed in ("127.0.0.1", "10.0.0.1", "::1"):
        assert refusal(ipaddress.ip_address(allowed), allow_private=True) is None
    for refused in ("169.254.169.254", "224.0.0.1", "0.0.0.0"):  # noqa: S104
        assert refusal(ipaddress.ip_address(refused), allow_private=True) is not None


def test_one_internal_address_among_public_ones_refuses_the_host() -> None:
    target = check_url("https://case.example.no/", production=True)
    addresses = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")]
    with pytest.raises(UnsafeTarget) as refused:
        check_addresses(target, addresses, allow_private=False)
    assert refused.value.code == "private"
    with pytest.raises(UnsafeTarget):
        check_addresses(target, [], allow_private=True)
