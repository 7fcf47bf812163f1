"""Which iMIS addresses mailfiler may call, checked when an address is given and again at
every connection.

Many organisations share one server, and an organisation's Options admin
sets its iMIS address. Without these checks the server would post the
background account's password wherever that admin points it, and its error
messages would scan the server's own network. So:

- the address is ``https://`` (a password never travels in clear); plain
  ``http://`` only to a loopback address, and only when the server was
  started with ``MAILFILER_ALLOW_LOCAL_CRM=1`` (the tests' stand-in sites);
- every address the host name resolves to must be a public one: loopback,
  private (RFC 1918, IPv6 unique-local), link-local (169.254/16, where cloud
  metadata services answer), shared (CGNAT, 100.64/10) and "this network"
  addresses are refused unless that setting allows them; unspecified,
  multicast, broadcast and reserved ones always are, as is an IPv6 address
  that carries such an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64);
- the connection itself is made by ``GuardedTransport``, which resolves the
  name again and connects only to an address it has just checked: a name
  that resolves differently later (DNS rebinding) never reaches a refused
  address;
- errors name the site, never how its port answered; the detail is logged.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpcore2
import httpx2

from mailfiler.errors import BadRequest, ConnectorUnavailable

log = logging.getLogger("mailfiler.imis")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A host name and port -> every address it resolves to, as text.
Resolver = Callable[[str, int], Sequence[str]]

_THIS_NETWORK: Final = ipaddress.IPv4Network("0.0.0.0/8")  # RFC 1122: never a destination
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_CLEAR: Final = "the address must start with https:// (a password never travels in clear)"


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolves ``host`` to (IPv4 and IPv6)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class SitePolicy:
    """Where this server may connect: ``allow_local`` is the installation's setting
    (``Settings.allow_local_crm``), ``resolve`` the name lookup (tests give their own)."""

    allow_local: bool = False
    resolve: Resolver = system_resolver


class AddressRefused(ConnectorUnavailable):
    """At connection time, the site's name led to an address mailfiler does not call."""


@dataclass(frozen=True)
class Site:
    """An iMIS address, taken apart: what is checked and how it is kept."""

    scheme: str
    host: str  # lower case, IDNA (ASCII); an IPv6 literal without its brackets
    port: int
    path: str  # without a trailing "/"

    @property
    def url(self) -> str:
        """The address as mailfiler keeps it (the default port left out)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if _DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


def parse(url: str) -> Site:
    """The address taken apart, by its form alone (nothing is looked up); ``BadRequest``
    saying what is wrong with it."""
    text = url.strip()
    wrong = f"{text[:200]!r} is not the address of an iMIS site (https://…)"
    if not text or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise BadRequest(wrong)
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname or ""
    except ValueError as error:  # a port that is no number, a bracket left open
        raise BadRequest(wrong) from error
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise BadRequest(wrong)
    if parts.username is not None or parts.password is not None:
        raise BadRequest(f"{wrong}: it cannot carry a user name or password")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise BadRequest(f"{wrong}: it cannot carry a query (?…) or a fragment (#…)")
    try:
        host = _ascii_host(host)
    except (UnicodeError, ValueError) as error:
        raise BadRequest(wrong) from error
    return Site(scheme, host, port or _DEFAULT_PORTS[scheme], parts.path.rstrip("/"))


def _ascii_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.rstrip(".").encode("idna").decode("ascii").lower()
    labels = name.split(".")
    if not name or any(
        not label or len(label) > 63 or not all(c.isalnum() or c == "-" for c in label)
        for label in labels
    ):
        raise ValueError(f"not a host name: {host!r}")
    return name


def same_site(one: str | None, other: str | None) -> bool:
    """Whether two addresses name the same site (by their form: nothing is looked up)."""
    if not one or not other:
        return not one and not other
    try:
        return parse(one).url == parse(other).url
    except BadRequest:
        return one.strip().rstrip("/") == other.strip().rstrip("/")


def checked_site(url: str, policy: SitePolicy) -> str:
    """The address as mailfiler keeps it, once it may be called; ``BadRequest`` saying why
    not. Its name is looked up; nothing is sent to it."""
    site = parse(url)
    if site.scheme == "http" and not (policy.allow_local and _is_literal(site.host)):
        raise BadRequest(f"mailfiler does not call {site.url}: {_CLEAR}")
    try:
        addresses = _resolved(site.host, site.port, policy)
    except OSError as error:
        log.warning("the iMIS site %s does not resolve: %s", site.url, error)
        raise BadRequest(
            f"mailfiler cannot find the iMIS site at {site.url}: its name does not resolve"
        ) from error
    refusal = _refusal(site, addresses, policy)
    if refusal:
        raise BadRequest(f"mailfiler does not call {site.url}: {refusal}")
    return site.url


def _resolved(host: str, port: int, policy: SitePolicy) -> list[IPAddress]:
    addresses = [_address(a) for a in policy.resolve(host, port)]
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    return addresses


def _address(text: str) -> IPAddress:
    # An IPv6 link-local address comes with its zone ("fe80::1%eth0"): the zone is no part
    # of what is checked.
    return ipaddress.ip_address(text.split("%", 1)[0])


def _refusal(site: Site, addresses: Iterable[IPAddress], policy: SitePolicy) -> str:
    """Why mailfiler does not call this site at these addresses ("" when it does)."""
    reaches = {_reach(a) for a in addresses}
    literal = _is_literal(site.host)
    if "never" in reaches:
        what = "it is" if literal else "its name leads to"
        return f"{what} an address that is never an iMIS site (unspecified, multicast, reserved)"
    if not policy.allow_local and reaches & {"local", "loopback"}:
        what = "it is" if literal else "its name leads to"
        return f"{what} a private, loopback or link-local address"
    # Plain http only to a loopback address written as one: nothing on the way to read it.
    if site.scheme == "http" and not (policy.allow_local and literal and reaches == {"loopback"}):
        return _CLEAR
    return ""


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _reach(address: IPAddress) -> str:
    """One of "public", "loopback", "local" (private, link-local, shared) or "never"."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the IPv4 address itself, on a dual-stack socket
            return _reach(address.ipv4_mapped)
        carried = _carried_ipv4(address)
        if carried:  # a tunnel towards these: only towards public ones
            return "public" if all(_reach(a) == "public" for a in carried) else "never"
    if isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK:
        return "never"
    if address.is_unspecified or address.is_multicast:
        return "never"
    if address.is_loopback:  # before "reserved": ::1 lies in the reserved ::/8
        return "loopback"
    if address.is_reserved:
        return "never"
    if address.is_global:
        return "public"
    return "local"  # RFC 1918, unique-local, link-local, shared (100.64/10), documentation


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    carried: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)
    if address in _NAT64:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return carried


# -- the connection --------------------------------------------------------------------


class _GuardedBackend(httpcore2.NetworkBackend):
    """Connects only to addresses it has just resolved and checked."""

    def __init__(self, policy: SitePolicy) -> None:
        self._policy = policy
        self._plain = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        try:
            addresses = _resolved(host, port, self._policy)
        except (OSError, ValueError) as error:  # the name does not resolve (now)
            raise httpcore2.ConnectError(f"{host} does not resolve: {error}") from error
        for address in addresses:
            reach = _reach(address)
            if reach == "never" or (reach != "public" and not self._policy.allow_local):
                log.warning(
                    "refused to connect to the iMIS site %s: it resolves to %s (%s)",
                    host, address, reach,
                )  # fmt: skip
                raise AddressRefused(
                    f"mailfiler does not call the iMIS site at {host}: its name now leads to "
                    "an address mailfiler does not call"
                )
        failure: httpcore2.ConnectError | httpcore2.ConnectTimeout | None = None
        for address in addresses:  # the checked address itself: no second lookup
            try:
                return self._plain.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # addresses is never empty
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        raise httpcore2.ConnectError("an iMIS site is never a local socket")


class GuardedTransport(httpx2.HTTPTransport):
    """httpx's own transport, connecting through ``_GuardedBackend``; no proxy from the
    environment (the check must see the real destination)."""

    def __init__(self, policy: SitePolicy) -> None:
        super().__init__(trust_env=False)
        self._policy = policy
        # httpx builds its pool with the plain backend; this one checks each address.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        scheme = request.url.scheme
        if scheme != "https":
            try:
                host = _address(request.url.host)
            except ValueError:
                host = None
            if not (scheme == "http" and self._policy.allow_local and host and host.is_loopback):
                raise AddressRefused(
                    f"mailfiler does not call the iMIS site at {request.url.host} over "
                    f"{scheme}://: only https:// carries a password"
                )
        return super().handle_request(request)
