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
        "9,Bad,not mail\n9,Again,c@x.example\n10,Nul\x00,d@x.example\n"
    )
    # Each rejected row by its line, its column and why.
    assert problems == [
        "line 2, column id: empty",
        "line 3, column full_name: empty",
        "line 4, column emails: not an email address: not mail",
        "line 5, column id: 9 is on line 4 already",
        "line 6, column full_name: holds a NUL character",
    ]
    assert "needs the columns" in read_contacts("name,mail\nx,y\n")[1][0]
