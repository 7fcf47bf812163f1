"""A careful client of one iMIS site's REST API, acting as the organisation's background account.

- One token per site and account, reused by every request until it is about
  to expire, then renewed (``POST /token``); a 401 drops it and asks again once.
- Reads are retried with back-off on 429 (after its ``Retry-After``), on 5xx
  and when the site cannot be reached. A write is retried only when it is
  known not to have landed: the connection was never made, or iMIS answered
  429. A write that may have landed (the answer never came) is never sent
  again: it is reported as unsure, and the ledger holds it.
- The background account's password refused (it expires every 90 days in
  iMIS) becomes one sentence for the user and a warning for administrators.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx2

from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.errors import ConnectorUnavailable

log = logging.getLogger("mailfiler.imis")

RENEW_BEFORE: Final = 60.0  # seconds before a token expires
LONGEST_WAIT: Final = 30.0  # seconds: a longer Retry-After fails the call instead


class BackgroundAccountRefused(ConnectorUnavailable):
    """iMIS refuses the background account's password: an administrator must update it."""


class UserTokenEnded(ConnectorUnavailable):
    """The signed-in user's own iMIS token is no longer accepted."""


class WriteRefused(Exception):
    """iMIS answered a write with an error: nothing was written. The reason is for the user."""


class WriteUnsure(Exception):
    """A write may have landed (no answer came): it must not be sent again blindly."""


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float  # time.monotonic()
    refresh_token: str | None = None


# (site, account) -> its token, shared by every client of this process.
_TOKENS: dict[tuple[str, str], Token] = {}
_TOKENS_LOCK = threading.Lock()


# (site, timeout) -> one HTTP client (and its kept-alive connections) for this process.
_CLIENTS: dict[tuple[str, float], httpx2.Client] = {}


def _shared_http(
    site: str, timeout: float, transport: httpx2.BaseTransport | None
) -> httpx2.Client:
    if transport is not None:  # a test's own transport: a client of its own
        return httpx2.Client(base_url=site, timeout=timeout, transport=transport)
    with _TOKENS_LOCK:
        client = _CLIENTS.get((site, timeout))
        if client is None:
            client = _CLIENTS[(site, timeout)] = httpx2.Client(base_url=site, timeout=timeout)
        return client


@atexit.register
def _close_clients() -> None:
    with _TOKENS_LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()


def forget_tokens() -> None:
    """Forget every token and close every connection (a site's password changed; tests)."""
    _close_clients()
    with _TOKENS_LOCK:
        _TOKENS.clear()


def password_token(
    site: str, username: str, password: str, *, timeout: float = 15.0,
    transport: httpx2.BaseTransport | None = None,
) -> Token | None:  # fmt: skip
    """A token for these credentials; None when iMIS says they are wrong."""
    try:
        with httpx2.Client(base_url=site, timeout=timeout, transport=transport) as http:
            answer = http.post(
                "/token",
                data={"grant_type": "password", "username": username, "password": password},
            )
    except httpx2.TransportError as error:
        raise ConnectorUnavailable(f"iMIS at {site} cannot be reached ({_why(error)})") from error
    if answer.status_code in (400, 401):
        return None
    if answer.status_code != 200:
        raise ConnectorUnavailable(f"iMIS at {site} answered the sign-in with {answer.status_code}")
    body = answer.json()
    lifetime = float(body.get("expires_in") or 1200)
    return Token(str(body["access_token"]), time.monotonic() + lifetime, body.get("refresh_token"))


class ImisClient:
    def __init__(
        self,
        site: str,
        account: str,
        password: Callable[[], str],
        mapping: ImisMapping,
        *,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.site = site.rstrip("/")
        self.account = account
        self._password = password
        self.mapping = mapping
        self._sleep = sleep
        self._transport = transport
        self._http = _shared_http(self.site, mapping.timeout_seconds, transport)

    # -- the token ----------------------------------------------------------------

    def _token(self, renew: bool = False) -> str:
        key = (self.site, self.account.lower())
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached and not renew and cached.expires_at - RENEW_BEFORE > time.monotonic():
                return cached.access_token
            token = password_token(
                self.site, self.account, self._password(),
                timeout=self.mapping.timeout_seconds, transport=self._transport,
            )  # fmt: skip
            if token is None:
                _TOKENS.pop(key, None)
                log.warning(
                    "iMIS at %s refused the background account %s: its password must be updated "
                    "(mailfiler options set --background-password-stdin)",
                    self.site,
                    self.account,
                )
                raise BackgroundAccountRefused(
                    f"iMIS refused the background account {self.account}: an administrator must "
                    "update the background account's password"
                )
            _TOKENS[key] = token
            return token.access_token

    # -- requests -------------------------------------------------------------------

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, as_user: str | None = None
    ) -> Any:
        """A read; with ``as_user`` (a user's own token), under that user's permissions."""
        return self._call("GET", path, params=params, write=False, as_user=as_user)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, json=body, write=True)

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
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            last = attempt > self.mapping.retries
            headers = {"Authorization": f"Bearer {as_user or self._token()}"}
            try:
                answer = self._http.request(method, path, params=params, json=json, headers=headers)
            except httpx2.ConnectError as error:  # never sent: safe to send again
                if last:
                    raise ConnectorUnavailable(
                        f"iMIS at {self.site} cannot be reached ({_why(error)})"
                    ) from error
                self._back_off(attempt)
                continue
            except httpx2.TransportError as error:  # sent, and no answer came
                if write:
                    raise WriteUnsure(
                        f"iMIS did not answer in time ({_why(error)}); the record may have been "
                        "written: check iMIS before saving it again"
                    ) from error
                if last:
                    raise ConnectorUnavailable(
                        f"iMIS at {self.site} did not answer ({_why(error)})"
                    ) from error
                self._back_off(attempt)
                continue
            status = answer.status_code
            if status == 401 and as_user:
                raise UserTokenEnded("your iMIS sign-in has ended: sign in again")
            if status == 401 and not renewed:  # the token ended early: once more, renewed
                renewed = True
                self._token(renew=True)
                attempt -= 1
                continue
            if status == 429 and not last:  # throttled: not processed, whatever the method
                self._wait(answer, attempt)
                continue
            if status >= 500 and not write and not last:
                self._back_off(attempt)
                continue
            if status >= 400:
                reason = f"iMIS answered {status} {answer.reason_phrase}{_detail(answer)}"
                if write:
                    raise WriteRefused(reason)
                if status == 404:
                    return None
                raise ConnectorUnavailable(reason)
            return answer.json() if answer.content else None

    def _back_off(self, attempt: int) -> None:
        self._sleep(min(0.25 * 2 ** (attempt - 1), 4.0))

    def _wait(self, answer: httpx2.Response, attempt: int) -> None:
        header = answer.headers.get("Retry-After", "")
        wait = float(header) if header.replace(".", "", 1).isdigit() else 0.25 * 2**attempt
        if wait > LONGEST_WAIT:
            raise ConnectorUnavailable(
                f"iMIS asks to wait {int(wait)} seconds before the next request: try again later"
            )
        self._sleep(wait)


def _why(error: Exception) -> str:
    return type(error).__name__ if not str(error) else f"{type(error).__name__}: {error}"[:200]


def _detail(answer: httpx2.Response) -> str:
    """iMIS's own message, when it sent one."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("Message", "message", "error_description", "detail", "title"):
            if isinstance(body.get(key), str):
                return f": {body[key][:300]}"
    return ""
