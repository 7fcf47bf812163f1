from __future__ import annotations

from mailfiler.core.addresses import address_key, looks_like_address


def test_addresses_compare_whole_case_insensitive_and_idn_normalised() -> None:
    assert address_key(" <Ann@Example.ORG> ") == "ann@example.org"
    assert address_key("carla@bücher.example") == address_key("carla@xn--bcher-kva.example")
    assert address_key("CARLA@BÜCHER.example") == "carla@xn--bcher-kva.example"
    assert address_key("ann@example.org") != address_key("ann@example.org.uk")
    assert address_key("ann@example.org.") == "ann@example.org"


def test_what_looks_like_an_address() -> None:
    assert looks_like_address("a@b")
    assert not looks_like_address("no at sign")
    assert not looks_like_address("@example.org")
    assert not looks_like_address("a b@example.org")
