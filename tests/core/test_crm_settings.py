"""An organisation's CRM settings are a typed value, read back from what is kept whatever
shape a hand-edited JSON column has."""

from mailfiler.core.organisation import CrmSettings


def test_what_is_kept_is_read_back_the_same() -> None:
    settings = CrmSettings(
        url="https://imis.example.org", mapping={"page_size": 50}, site={"site": "x"}
    )
    assert CrmSettings.from_stored(settings.to_stored()) == settings


def test_nothing_kept_is_no_site_and_the_default_mapping() -> None:
    assert CrmSettings.from_stored(None) == CrmSettings()
    assert CrmSettings().to_stored() == {}


def test_a_value_of_the_wrong_shape_is_taken_as_unset() -> None:
    read = CrmSettings.from_stored({"url": 42, "mapping": "page_size=1", "site": ["x"]})
    assert read == CrmSettings()
