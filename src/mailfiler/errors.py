"""The errors mailfiler raises, and whose fault each one is.

::

    MailfilerError                  everything mailfiler raises on purpose
     ├── InvalidMessage             the input's fault: not a readable message (4xx; nothing written)
     │    └── TooLarge              over the size limit, refused before it is read whole (413)
     ├── Unauthenticated            no valid sign-in: wrong credentials, expired token (401)
     ├── Throttled                  too many failed sign-ins; retry after ``retry_after`` s (429)
     ├── NotFound                   a named thing does not exist in this organisation (404)
     │    ├── UnknownOrganisation
     │    └── UnknownUser
     ├── Refused                    the caller may not do this (403)
     ├── BadRequest                 the request itself is wrong: bad field, bad option (400/422)
     ├── Conflict                   the thing already exists (409)
     └── SystemFault                the system's fault: database down, disk full (5xx, logged)
          └── ConnectorUnavailable  the CRM behind a connector cannot be reached or refuses us

"Skip this contact" is never an error: it is a result with a reason
(see ``core.plan``). Errors are for when nothing can be done at all.
"""

from __future__ import annotations


class MailfilerError(Exception):
    """Base of every error mailfiler raises on purpose; the message is a sentence for a human."""


class InvalidMessage(MailfilerError):
    """The bytes given are not a message mailfiler can read; the reason says why."""


class TooLarge(InvalidMessage):
    """The message is larger than the configured limit."""


class Unauthenticated(MailfilerError):
    """The caller is not signed in (or no longer is)."""


class Throttled(MailfilerError):
    """Too many failed sign-ins from this user or this address."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(MailfilerError):
    """Something named by the caller does not exist (in the caller's organisation)."""


class UnknownOrganisation(NotFound):
    pass


class UnknownUser(NotFound):
    pass


class Refused(MailfilerError):
    """The caller is not allowed to do this."""


class BadRequest(MailfilerError):
    """The request is malformed: an unknown field, a bad option value."""


class Conflict(MailfilerError):
    """The thing to create exists already."""


class SystemFault(MailfilerError):
    """Not the caller's fault: storage or a remote system failed. Nothing was half-written."""


class ConnectorUnavailable(SystemFault):
    """The CRM behind a connector cannot be reached, or rejects the background account."""
