"""The iMIS mapping an administrator sets: every value checked (issue 14, finding 2)."""

from __future__ import annotations

from typing import Any

import pytest

from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.errors import BadRequest


def test_every_name_has_a_check_and_the_defaults_pass_it() -> None:
    defaults = ImisMapping().to_json()
    assert ImisMapping.from_json(defaults) == ImisMapping()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("interaction_entity", "../../token", "must be a name"),
        ("activity_entity", "Activity?x=1", "must be a name"),
        ("interaction_attachment_entity", "", "must be a name"),
        ("party_email_filter", 5, "must be a name"),
        ("timeout_seconds", -1, "from 0.5 to 300"),
        ("timeout_seconds", "nan", "from 0.5 to 300"),
        ("timeout_seconds", 100_000, "from 0.5 to 300"),
        ("retries", 100_000, "from 0 to 10"),
        ("retries", 2.5, "a whole one"),
        ("retries", True, "from 0 to 10"),
        ("retries", "three", "from 0 to 10"),
        ("page_size", 0, "from 1 to 500"),
        ("page_size", 501, "from 1 to 500"),
        ("write_timeout_seconds", -1, "from 0.5 to 300"),
        ("search_query", "$/Queries/\x00Contacts", "0 to 400 characters"),
        ("search_email_column", "x" * 101, "0 to 100 characters"),
        ("record_link", "javascript:alert(1)", "starts with {site} or https://"),
        ("find_by_email", "yes", "true or false"),
        ("system_activity_types", "DUES", "a list of activity type codes"),
        ("system_activity_types", ["DUES", "../x"], "a list of activity type codes"),
        ("system_activity_types", ["CERTIFICATE"], "at most 10 letters"),  # varchar(10)
        ("site_time_zone", "../../etc/passwd", "is not a time zone"),
    ],
)
def test_a_wrong_value_is_refused_naming_it(name: str, value: Any, said: str) -> None:
    with pytest.raises(BadRequest) as refused:
        ImisMapping.from_json({name: value})
    assert said in str(refused.value)


def test_good_values_are_taken_in_their_kind() -> None:
    mapping = ImisMapping.from_json(
        {"interaction_entity": " ContactInteraction ", "retries": "2", "timeout_seconds": 30,
         "page_size": 500.0, "system_activity_types": ["dues", "Order"],
         "search_query": "$/My Queries/Contact Search"}
    )  # fmt: skip
    assert mapping.interaction_entity == "ContactInteraction"
    assert (mapping.retries, mapping.timeout_seconds, mapping.page_size) == (2, 30.0, 500)
    assert isinstance(mapping.page_size, int) and isinstance(mapping.timeout_seconds, float)
    assert mapping.system_activity_types == ("DUES", "ORDER")
