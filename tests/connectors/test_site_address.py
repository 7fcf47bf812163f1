"""Which iMIS addresses mailfiler calls: checked when given, and again at each connection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mailfiler.connectors.imis.client import Holder, ImisClient
from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.connectors.imis.site_address import (
    AddressRefused,
    SitePolicy,
    checked_site,
    same_site,
)
from mailfiler.errors import BadRequest
from tests.imis_site import MANAGER_PASSWORD, Site, recorded_pauses


def resolving(*addresses: str) -> SitePolicy:
    return SitePolicy(resolve=lambda host, port: list(addresses))


def refused(url: str, policy: SitePolicy) -> str:
    with pytest.raises(BadRequest) as error:
        checked_site(url, policy)
    return str(error.value)


PUBLIC = "93.184.215.14"


def test_a_public_https_site_is_kept_in_one_form() -> None:
    policy = resolving(PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert checked_site(" HTTPS://Acme.iMISCloud.com:443/ ", policy) == "https://acme.imiscloud.com"
    kept = checked_site("https://acme.example:8443/imis/", policy)
    assert kept == "https://acme.example:8443/imis"
    assert checked_site("https://bücher.example", policy) == "https://xn--bcher-kva.example"
    assert same_site("https://ACME.example/", "https://acme.example:443")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254",
        "fe80::1%eth0", "fc00::5", "100.64.0.1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
    ],
)  # fmt: skip
def test_loopback_private_and_link_local_addresses_are_refused_without_the_setting(
    address: str,
) -> None:
    why = refused("https://imis.example.org", resolving(PUBLIC, address))
    assert "its name leads to a private, loopback or link-local address" in why
    allowed = SitePolicy(allow_local=True, resolve=lambda host, port: [address])
    assert checked_site("https://imis.example.org", allowed) == "https://imis.example.org"


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0", "0.1.2.3", "::",  # noqa: S104 "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1",
        "2002:7f00:1::", "2002:a00:1::", "64:ff9b::a00:1", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    ],
)  # fmt: skip
def test_addresses_that_are_never_a_site_are_refused_even_with_the_setting(address: str) -> None:
    allowed = SitePolicy(allow_local=True, resolve=lambda host, port: [address])
    assert "never an iMIS site" in refused("https://imis.example.org", allowed)


def test_a_literal_address_is_refused_by_what_it_is() -> None:
    policy = SitePolicy(resolve=lambda host, port: [host])
    assert "it is a private" in refused("https://10.0.0.8:8443", policy)
    assert "it is a private" in refused("https://[fd00::8]", policy)


def test_plain_http_only_to_a_loopback_address_and_only_with_the_setting() -> None:
    local = SitePolicy(allow_local=True, resolve=lambda host, port: ["127.0.0.1"])
    assert checked_site("http://127.0.0.1:8080", local) == "http://127.0.0.1:8080"
    never = "must start with https://"
    assert never in refused("http://127.0.0.1:8080", resolving("127.0.0.1"))
    assert never in refused("http://localhost:8080", local)  # a name could lead elsewhere
    assert never in refused("http://imis.example.org", resolving(PUBLIC))
    assert never in refused("http://10.0.0.1", SitePolicy(True, lambda h, p: ["10.0.0.1"]))


@pytest.mark.parametrize(
    "url",
    [
        "", "acme.imiscloud.com", "ftp://acme.example", "https://", "https://user:pw@acme.example",
        "https://acme.example/?x=1", "https://acme.example/#top", "https://acme.example:99999",
        "https://acme example", "https://ac_me.example", "https://acme.exa\tmple",
    ],
)  # fmt: skip
def test_what_is_no_site_address_is_refused_before_any_lookup(url: str) -> None:
    def lookup(host: str, port: int) -> Sequence[str]:
        raise AssertionError("looked up")

    assert "is not the address of an iMIS site" in refused(url, SitePolicy(resolve=lookup))


def test_a_name_that_does_not_resolve_is_said_so() -> None:
    def nowhere(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    why = refused("https://nowhere.example", SitePolicy(resolve=nowhere))
    assert why == (
        "mailfiler cannot find the iMIS site at https://nowhere.example: its name does not resolve"
    )


def test_a_name_that_resolves_elsewhere_later_is_never_connected_to(site: Site) -> None:
    """DNS rebinding: public when it was checked, loopback when mailfiler connects."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    policy = SitePolicy(resolve=lambda host, port: next(answers))
    port = site.url.rsplit(":", 1)[1]
    url = checked_site(f"https://rebinding.example:{port}", policy)
    client = ImisClient(
        url, "MANAGER", lambda: MANAGER_PASSWORD, ImisMapping(), holder=Holder("1:R", "r"),
        policy=policy,
    )  # fmt: skip
    with recorded_pauses(), pytest.raises(AddressRefused):
        client.get("/api/Party/101")
    assert site.standin.token_requests == [] and site.standin.requests == []


def test_plain_http_is_refused_at_connection_time_too(site: Site) -> None:
    client = ImisClient(
        site.url, "MANAGER", lambda: MANAGER_PASSWORD, ImisMapping(), holder=Holder("1:H", "h"),
        policy=SitePolicy(allow_local=False),
    )  # fmt: skip
    with recorded_pauses(), pytest.raises(AddressRefused):
        client.get("/api/Party/101")
    assert site.standin.token_requests == []
