"""A careful client of one iMIS site's REST API, acting as one organisation's background account.

- A token belongs to one organisation and one stored password: tokens, the
  shared HTTP connections (and their cookies) and the memory of a refused
  password are all kept per ``Holder`` (the organisation, and a fingerprint
  of its stored secret, which changes whenever the password is set again).
  No organisation ever acts with a token another obtained, and a password
  refused for one organisation touches nothing of another's.
- A token is reused until it is about to expire, then renewed (``POST
  /token``); a 401 renews it once. A refused password is remembered for
  ``REFUSAL_MEMORY``: each failed login could lock the real account at iMIS,
  so it is not tried again on every request (setting the password again
  starts afresh at once: a new fingerprint).
- Throttling (429) and connections that fail or drop are ridden out within
  the caller's patience (``connectors.patience``): ``Retry-After`` when iMIS
  gives one, whatever its length, otherwise exponential back-off with
  jitter. A site that answers with errors (5xx) or not in time is tried
  ``retries`` more times. A write is sent again only when it is known not to
  have landed (the connection was never made, or iMIS answered 429); one
  that may have landed (the answer never came) is reported as unsure.
- Connections go only to checked addresses (``site_address``); what the user
  sees of a failure is one sentence naming the site, the detail is logged.
"""

from __future__ import annotations

import atexit
import email.utils
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx2

from mailfiler.connectors import patience
from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.connectors.imis.site_address import GuardedTransport, SitePolicy
from mailfiler.errors import BadRequest, ConnectorUnavailable, MailfilerError, Unauthenticated

log = logging.getLogger("mailfiler.imis")

RENEW_BEFORE: Final = 60.0  # seconds before a token expires
TOKEN_LIFETIME: Final = 1200.0  # seconds, when /token says none (iMIS's usual 20 minutes)
LONGEST_TOKEN: Final = 86400.0  # seconds: a longer expires_in is taken as a day
LONGEST_RETRY_AFTER: Final = 86400.0  # seconds: a longer Retry-After is taken as a day
# How long a refused background password is not tried again (per server process).
REFUSAL_MEMORY: Final = 600.0  # seconds
# At most this many different passwords refused per organisation, site and account within
# the window (per server process); then none is tried until the window has passed.
MOST_REFUSED_PASSWORDS: Final = 3
GUESS_WINDOW: Final = 3600.0  # seconds
# Back-off when iMIS gives no Retry-After: doubling from the first, never longer than the
# most, each with jitter (half of it random) so that many clients do not retry in step.
BACK_OFF_FIRST: Final = 0.5  # seconds
BACK_OFF_MOST: Final = 60.0  # seconds


class BackgroundAccountRefused(ConnectorUnavailable):
    """iMIS refuses the background account's password: an administrator must update it."""


class SiteUnreachable(ConnectorUnavailable):
    """The site could not be reached, or was busy, for longer than the caller's patience."""


# Kinds of the failures above, each with its own sentence, so that the set-up check tells an
# administrator which one to fix (staff are told only whom to ask).
class NotAnImisSite(SiteUnreachable):
    """Something answers at the address, but not as iMIS does (no token from ``/token``)."""


class SiteBusy(SiteUnreachable):
    """The site kept answering 429 for longer than the caller's patience."""


class TooManyRefused(BackgroundAccountRefused):
    """Passwords were refused for the account so often that none is tried for an hour."""


class UserTokenEnded(Unauthenticated):
    """The signed-in user's own iMIS token is no longer accepted: they sign in again."""


class SiteRefused(BadRequest):
    """iMIS answered a read with a refusal (400 or 403): the site works, and says no (a
    query that does not exist, a filter it does not take, a right the account lacks)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


class SiteFailed(ConnectorUnavailable):
    """iMIS answered a read with another error (a 5xx, a 405): ``status`` says which, so that
    the set-up check can tell a resource that takes no GET (405) from a site that fails."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


class WriteRefused(Exception):
    """iMIS answered a write with an error: nothing was written. The reason is for the user."""


# Answers to a write that say nothing of whether iMIS did it: a gateway's (a proxy in front of
# the site gave up waiting, or got no proper answer) and a time-out, after the body was sent.
MAY_HAVE_LANDED: Final = frozenset({408, 502, 504})


class WriteUnsure(Exception):
    """A write may have landed (no answer came): it must not be sent again blindly."""


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float  # on the client's monotonic clock
    refresh_token: str | None = None


@dataclass(frozen=True)
class Holder:
    """Whose tokens and connections these are: an organisation, and the stored secret its
    background password came from (``fingerprint``)."""

    organisation: str
    secret: str


def fingerprint(stored_secret: str) -> str:
    """A short name for a stored (encrypted) secret: a new one whenever it is set again."""
    return hashlib.sha256(stored_secret.encode()).hexdigest()[:32]


# -- what this process keeps, per holder ------------------------------------------------------

_Key = tuple[Holder, str, str]  # (holder, site, account in lower case)

_LOCK = threading.Lock()  # guards the dicts below, never held during a request
_TOKENS: dict[_Key, Token] = {}
_REFUSED: dict[_Key, float] = {}  # refused until (monotonic)
_FETCHING: dict[_Key, threading.Lock] = {}  # one /token call at a time per key
# (organisation, site, account) -> when passwords set for it were refused, whatever the
# password: an organisation setting password after password is guessing at a site.
_GUESSES: dict[tuple[str, str, str], list[float]] = {}
_CLIENTS: dict[tuple[Holder, str, SitePolicy], httpx2.Client] = {}
_SECRET_NOW: dict[str, str] = {}  # organisation -> the fingerprint its latest client used
# Clients of a password set again, with when: a request may still be using one, so each is
# closed once it has been retired for ``RETIRED_FOR`` (never kept until the process ends).
_RETIRED: list[tuple[float, httpx2.Client]] = []
RETIRED_FOR: Final = 600.0  # seconds: longer than any request may take


def _adopt(holder: Holder) -> None:
    """A holder is in use: what the organisation kept with an older secret is forgotten."""
    with _LOCK:
        before = _SECRET_NOW.get(holder.organisation)
        _SECRET_NOW[holder.organisation] = holder.secret
        if before is None or before == holder.secret:
            return
        for kept in (_TOKENS, _REFUSED, _FETCHING):
            for key in [k for k in kept if k[0].organisation == holder.organisation]:
                if key[0].secret != holder.secret:
                    del kept[key]
        for client_key in [k for k in _CLIENTS if k[0].organisation == holder.organisation]:
            if client_key[0].secret != holder.secret:
                _RETIRED.append((time.monotonic(), _CLIENTS.pop(client_key)))
        _close_retired(time.monotonic() - RETIRED_FOR)


def _close_retired(before: float) -> None:
    """Close the clients retired before ``before`` (the caller holds ``_LOCK``)."""
    for entry in [e for e in _RETIRED if e[0] <= before]:
        _RETIRED.remove(entry)
        entry[1].close()


@atexit.register
def _close_clients() -> None:
    with _LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()
        _close_retired(float("inf"))


def forget_tokens() -> None:
    """Forget every token and refusal and close every connection (tests)."""
    _close_clients()
    with _LOCK:
        _TOKENS.clear()
        _REFUSED.clear()
        _FETCHING.clear()
        _GUESSES.clear()
        _SECRET_NOW.clear()


def _new_http(
    site: str, timeout: float, policy: SitePolicy, transport: httpx2.BaseTransport | None
) -> httpx2.Client:
    return httpx2.Client(
        base_url=site, timeout=timeout, transport=transport or GuardedTransport(policy)
    )


# -- a user's own token ------------------------------------------------------------------------


def password_token(
    site: str, username: str, password: str, *, timeout: float, policy: SitePolicy,
    transport: httpx2.BaseTransport | None = None, now: Callable[[], float] = time.monotonic,
) -> Token | None:  # fmt: skip
    """A token for these credentials (tried once: a person is waiting); None when iMIS
    says they are wrong. A fresh connection: no cookie is shared between users."""
    try:
        with _new_http(site, timeout, policy, transport) as http:
            answer = http.post("/token", data=_credentials(username, password))
    except httpx2.TransportError as error:
        raise _unreachable(site, error) from error
    return _token_from(site, answer, now())


def _credentials(username: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


def _token_from(site: str, answer: httpx2.Response, now: float) -> Token | None:
    """The token in an answer to ``POST /token``; None when the credentials are wrong."""
    if answer.status_code in (400, 401):  # ASI's client: a 400 from /token is wrong credentials
        return None
    try:
        body = answer.json() if answer.status_code == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        # Not an iMIS token answer: what answered is logged, never said (a name of some
        # other server's answer would tell what listens there).
        raise _not_imis(site, f"POST /token answered {answer.status_code}")
    try:
        lifetime = float(body.get("expires_in") or TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = TOKEN_LIFETIME
    if not 0 < lifetime <= LONGEST_TOKEN:  # nothing a site says can overflow a clock (NaN too)
        lifetime = TOKEN_LIFETIME if not lifetime > 0 else LONGEST_TOKEN
    refresh = body.get("refresh_token")
    return Token(
        body["access_token"], now + lifetime, refresh if isinstance(refresh, str) else None
    )


# What staff are told of a site or a background account that does not work: one sentence
# they can act on, naming no address, account or setting (those are the administrator's, in
# the log and in ``mailfiler imis check``).
UNREACHABLE: Final = "mailfiler cannot reach your iMIS site: tell your administrator"
NOT_IMIS: Final = (
    "the iMIS address mailfiler has for your organisation does not answer as iMIS: "
    "tell your administrator"
)
REFUSED: Final = "iMIS refused mailfiler's background account: tell your administrator"


def _unreachable(site: str, detail: Exception | str) -> SiteUnreachable:
    log.warning(
        "cannot reach the iMIS site %s: %s (check the address and that the site is up: "
        "mailfiler imis check)", site, _why(detail),
    )  # fmt: skip
    return SiteUnreachable(UNREACHABLE)


def _not_imis(site: str, detail: str) -> NotAnImisSite:
    log.warning(
        "the address %s does not answer as an iMIS site: %s (it should be the site's own "
        "address, such as https://acme.imiscloud.com, without /api)", site, detail,
    )  # fmt: skip
    return NotAnImisSite(NOT_IMIS)


# -- the background account ----------------------------------------------------------------


class ImisClient:
    def __init__(
        self,
        site: str,
        account: str,
        password: Callable[[], str],
        mapping: ImisMapping,
        *,
        holder: Holder,
        policy: SitePolicy | None = None,
        transport: httpx2.BaseTransport | None = None,
        now: Callable[[], float] = time.monotonic,
        problem: MailfilerError | None = None,
    ) -> None:
        """``problem``: why this organisation's settings cannot be used (no address, no
        password): raised by the first call, so that what does not call iMIS (reading
        and repairing the options) still works."""
        self.site = site.rstrip("/")
        self.account = account
        self._password = password
        self.mapping = mapping
        self.holder = holder
        self.policy = policy or SitePolicy()
        self._transport = transport
        self.now = now  # the clock of its tokens (tests give their own)
        self._problem = problem
        self._key: _Key = (holder, self.site, account.lower())
        self._own: httpx2.Client | None = None
        _adopt(holder)

    def _http(self) -> httpx2.Client:
        """The holder's shared client (its kept-alive connections and cookies)."""
        if self._transport is not None:  # a test's own transport: a client of its own
            if self._own is None:
                self._own = _new_http(self.site, self.mapping.timeout_seconds, self.policy,
                                      self._transport)  # fmt: skip
            return self._own
        # One per holder and site, whatever the time-out (given with each request): a
        # time-out changed again and again leaves no client behind.
        key = (self.holder, self.site, self.policy)
        with _LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                client = _CLIENTS[key] = _new_http(
                    self.site, self.mapping.timeout_seconds, self.policy, None
                )
            return client

    # -- the token ----------------------------------------------------------------

    def ready(self) -> None:
        """The background account holds a token (asked for now, if need be): raises what
        stops it (its password refused, the site unreachable)."""
        self._token()

    def user_token(self, username: str, password: str) -> Token | None:
        """A signed-in user's own token for this site (their password checked by iMIS)."""
        self._raise_problem()
        return password_token(
            self.site, username, password, timeout=self.mapping.timeout_seconds,
            policy=self.policy, transport=self._transport, now=self.now,
        )  # fmt: skip

    def _token(self, stale: str | None = None) -> str:
        """The holder's token; a new one when the cached one is ``stale`` (iMIS answered 401
        to it) or about to expire."""
        self._raise_problem()
        with _LOCK:
            fetching = _FETCHING.setdefault(self._key, threading.Lock())
        with fetching:  # one /token call per key at a time; other organisations never wait
            with _LOCK:
                cached = _TOKENS.get(self._key)
                refused_until = _REFUSED.get(self._key, 0.0)
            now = self.now()
            if cached and cached.access_token != stale and cached.expires_at - RENEW_BEFORE > now:
                return cached.access_token
            if refused_until > now:
                raise self._refused(remembered=True)
            guessing = (self.holder.organisation, self.site, self.account.lower())
            with _LOCK:
                recent = [t for t in _GUESSES.get(guessing, []) if t > now - GUESS_WINDOW]
                _GUESSES[guessing] = recent
            if len(recent) >= MOST_REFUSED_PASSWORDS:
                raise self._too_many_refused()
            credentials = _credentials(self.account, self._password())
            timeout = self.mapping.timeout_seconds
            answer = self._send(
                lambda: self._http().post("/token", data=credentials, timeout=timeout), False
            )
            token = _token_from(self.site, answer, self.now())
            with _LOCK:
                if token is None:
                    _TOKENS.pop(self._key, None)
                    _REFUSED[self._key] = self.now() + REFUSAL_MEMORY
                    _GUESSES.setdefault(guessing, []).append(self.now())
                else:
                    _TOKENS[self._key] = token
                    _REFUSED.pop(self._key, None)
            if token is None:
                raise self._refused(remembered=False)
            return token.access_token

    def _refused(self, remembered: bool) -> BackgroundAccountRefused:
        if not remembered:
            log.warning(
                "iMIS at %s refused the background account %s of %s: its password must be "
                "updated (mailfiler options set --background-password-stdin); not tried again "
                "for %d minutes",
                self.site, self.account, self.holder.organisation, REFUSAL_MEMORY // 60,
            )  # fmt: skip
        return BackgroundAccountRefused(REFUSED)

    def _too_many_refused(self) -> BackgroundAccountRefused:
        log.warning(
            "iMIS at %s refused %d passwords of %s for the background account %s within an "
            "hour: no other is tried there before the hour is over, so that guesses cannot "
            "lock the account at iMIS; check the password, then set it again after the hour",
            self.site, MOST_REFUSED_PASSWORDS, self.holder.organisation, self.account,
        )  # fmt: skip
        return TooManyRefused(REFUSED)

    def _raise_problem(self) -> None:
        if self._problem is not None:
            raise self._problem

    # -- requests -------------------------------------------------------------------

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, as_user: str | None = None
    ) -> Any:
        """A read; with ``as_user`` (a user's own token), under that user's permissions."""
        return self._call("GET", path, params=params, write=False, as_user=as_user)

    def post(self, path: str, body: Any) -> Any:
        """A write: sent again only when it is known not to have landed."""
        return self._call("POST", path, json=body, write=True)

    def ask(self, path: str, body: Any) -> Any:
        """A question asked with POST (an operation such as ``FindByEmail``): a read, that
        writes nothing and may be asked again."""
        return self._call("POST", path, json=body, write=False)

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a paged list, page after page."""
        offset: int | None = 0
        while offset is not None:
            query = {**(params or {}), "limit": self.mapping.page_size, "offset": offset}
            items, offset = wire.page(self.get(path, query))
            yield from items

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        write: bool,
        as_user: str | None = None,
    ) -> Any:
        self._raise_problem()
        # A write may be slow (ASI's own client waits up to 5 minutes): waited for, so
        # that slowness does not turn it into "unsure".
        m = self.mapping
        timeout = m.write_timeout_seconds if write else m.timeout_seconds
        renewed = False
        while True:
            token = as_user or self._token()

            def send(token: str = token) -> httpx2.Response:
                headers = {"Authorization": f"Bearer {token}"}
                return self._http().request(
                    method, path, params=params, json=json, headers=headers,
                    timeout=timeout,
                )  # fmt: skip

            answer = self._send(send, write)
            status = answer.status_code
            if status == 401 and as_user:
                raise UserTokenEnded("your iMIS sign-in has ended: sign in again")
            if status == 401 and not renewed:  # the token ended early: once more, renewed
                renewed = True
                self._token(stale=token)
                continue
            if status >= 400:
                reason = f"iMIS answered {status} {answer.reason_phrase}{_detail(answer)}"
                if write and status in MAY_HAVE_LANDED:
                    log.warning("iMIS at %s answered a write with %s", self.site, reason)
                    raise WriteUnsure(
                        f"{reason}: the record may have been written all the same: check "
                        "iMIS before saving it again"
                    )
                if write:
                    raise WriteRefused(_refusal(answer) or reason)
                if status == 404:
                    return None
                if status in (400, 403):  # the site refuses the request: it is not down
                    raise SiteRefused(_refusal(answer) or reason, status)
                raise SiteFailed(reason, status)
            if not answer.content:
                return None
            try:
                return answer.json()
            except ValueError as error:
                raise _not_imis(self.site, f"{method} {path} answered with no JSON") from error

    def _send(self, send: Callable[[], httpx2.Response], write: bool) -> httpx2.Response:
        """The answer to a request, sent again after a pause while that may help and the
        caller's patience allows.

        Whatever answer comes last is returned (a 5xx once ``retries`` are spent); a
        site busy or out of reach past the patience raises ``SiteUnreachable``, a write
        that may have landed ``WriteUnsure``.
        """
        allowance = patience.current()
        failing = 0  # answers saying the site fails (5xx, no answer in time)
        attempt = 0
        while True:
            attempt += 1
            answer: httpx2.Response | None = None
            asked: float | None = None
            try:
                answer = send()
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as error:
                failure: Exception | str = error  # never sent: safe to send again
                why = f"mailfiler cannot reach iMIS at {self.site}"
            except httpx2.TransportError as error:  # sent, and the answer never came
                if write:
                    log.warning("no answer from iMIS at %s to a write: %s", self.site, _why(error))
                    raise WriteUnsure(
                        "iMIS did not answer; the record may have been written: check iMIS "
                        "before saving it again"
                    ) from error
                failure = error
                failing += isinstance(error, httpx2.TimeoutException)
                why = f"the connection to iMIS at {self.site} dropped"
            else:
                if answer.status_code == 429:  # throttled: not processed, whatever the method
                    failure = "429"
                    asked = _retry_after(answer)
                    why = "iMIS asks mailfiler to slow down"
                elif answer.status_code >= 500 and not write:
                    failure = f"{answer.status_code}"
                    failing += 1
                    why = f"iMIS answered {answer.status_code}"
                else:
                    return answer
            wait = max(asked, BACK_OFF_FIRST) if asked is not None else _back_off(attempt)
            if failing > self.mapping.retries or not allowance.allows(wait):
                if answer is not None and answer.status_code != 429:
                    return answer  # a 5xx: the caller says what iMIS said
                raise self._given_up(failure, asked, wait)
            allowance.pause(wait, why)

    def _given_up(self, failure: Exception | str, asked: float | None, wait: float) -> Exception:
        if failure != "429":
            return _unreachable(self.site, failure)
        later = f" (it asks mailfiler to wait {int(wait)} seconds)" if asked is not None else ""
        log.warning("iMIS at %s kept answering 429%s: not waiting longer", self.site, later)
        return SiteBusy(f"your iMIS site is busy{later}: try again later")


def _back_off(attempt: int) -> float:
    ceiling = min(BACK_OFF_MOST, BACK_OFF_FIRST * 2.0 ** min(attempt - 1, 30))
    return ceiling / 2 + _jitter.uniform(0, ceiling / 2)


_jitter = secrets.SystemRandom()


def _retry_after(answer: httpx2.Response) -> float | None:
    """RFC 9110 10.2.3: seconds, or an HTTP date; None when absent or unreadable."""
    header = answer.headers.get("Retry-After", "").strip()
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if not 0 <= seconds < float("inf"):  # NaN, negative, infinite: as if not given
        return None
    return min(seconds, LONGEST_RETRY_AFTER)


def _why(error: Exception | str) -> str:
    if isinstance(error, str):
        return error
    return type(error).__name__ if not str(error) else f"{type(error).__name__}: {error}"[:200]


def _refusal(answer: httpx2.Response) -> str | None:
    """Why iMIS refused, when it said so in a ``ValidationResultsData``: each field named."""
    try:
        return wire.validation_errors(answer.json())
    except ValueError:
        return None


def _detail(answer: httpx2.Response) -> str:
    """iMIS's own message, when it sent one."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    if isinstance(body, str) and body.strip():  # a bare JSON string: the message itself
        return f": {body.strip()[:300]}"
    if isinstance(body, dict):
        for key in ("Message", "message", "error_description", "detail", "title"):
            if isinstance(body.get(key), str):
                return f": {body[key][:300]}"
    return ""
