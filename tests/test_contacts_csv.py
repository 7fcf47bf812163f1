from __future__ import annotations

from mailfiler.service.contacts_csv import read_contacts


def test_rows_are_read_with_their_addresses_and_organisation() -> None:
    rows, problems = read_contacts(
        "ID,Full_Name,Emails,Organization\n"
        "7, Ann Archer ,ann@x.example; ann@y.example,Archer & Co\n"
    )
    assert problems == []
    [row] = rows
    assert (row.contact_id, row.full_name, row.organization) == ("7", "Ann Archer", "Archer & Co")
    assert row.emails == ("ann@x.example", "ann@y.example")


def test_every_wrong_line_is_named_at_once() -> None:
    _, problems = read_contacts(
        "id,full_name,emails\n,No Id,a@x.example\n8,,b@x.example\n"
        "9,Bad,not mail\n9,Again,c@x.example\n"
    )
    assert problems == [
        "line 2: no id",
        "line 3: no full_name",
        "line 4: not an email address: not mail",
        "line 5: id 9 appears twice",
    ]
    assert "needs the columns" in read_contacts("name,mail\nx,y\n")[1][0]
