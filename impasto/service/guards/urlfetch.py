"""Import a picture from a URL without letting the server be pointed at its own network (SSRF).

Only ``http``/``https``; the host name is resolved here and *every* address must be public
(private, loopback, link-local, multicast, reserved and unspecified ones are refused unless an
operator allow-lists a network; IPv6 addresses that carry an IPv4 one, mapped, 6to4, Teredo or
NAT64, are judged by that address too); the connection then goes to the checked address, so a
second DNS answer cannot swap it. Redirects are followed by hand and each hop is checked again. Time and size
are bounded.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from urllib.parse import urljoin

import httpx

from ...errors import ImpastoError, TooLarge

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UrlError(ImpastoError):
    """The URL cannot or may not be fetched."""


class UrlTooLarge(UrlError, TooLarge):
    """The picture at the URL is over the size limit."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlError(f"cannot resolve host {host!r}") from None
    return sorted({str(info[4][0]) for info in infos})


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: the last 32 bits are IPv4


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped, 6to4 (2002::/16, where a relay
    delivers to the embedded address), Teredo (2001::/32: server and client) and NAT64."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if not all(is_public(a) for a in embedded_ipv4(address)):
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


class UrlFetcher:
    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        allow: Iterable[str] = (),
        timeout: float = 10.0,
        max_bytes: int = 25 * 1024 * 1024,
        max_redirects: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.resolver = resolver
        self.allow = [ipaddress.ip_network(n, strict=False) for n in allow]
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.transport = transport

    def check(self, url: str) -> tuple[httpx.URL, str]:
        """Validate ``url`` and return it with the one address to connect to."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise UrlError("not a valid URL") from None
        if parsed.scheme not in ("http", "https"):
            raise UrlError("only http and https URLs can be imported")
        if not parsed.host:
            raise UrlError("the URL has no host")
        if parsed.userinfo:
            raise UrlError("URLs with a user name or password are not accepted")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(parsed.host)]
        except ValueError:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(parsed.host, port)]
        if not addresses:
            raise UrlError(f"cannot resolve host {parsed.host!r}")
        for address in addresses:
            if not (is_public(address) or any(address in net for net in self.allow)):
                raise UrlError(f"{parsed.host} points to a private or reserved address; refused")
        return parsed, str(addresses[0])

    def fetch(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=self.timeout, follow_redirects=False, transport=self.transport) as client:
            for _hop in range(self.max_redirects + 1):
                parsed, address = self.check(url)
                redirect, body = self._get(client, parsed, address, deadline)
                if redirect is None:
                    return body
                url = urljoin(str(parsed), redirect)
            raise UrlError(f"more than {self.max_redirects} redirects")

    def _get(
        self, client: httpx.Client, parsed: httpx.URL, address: str, deadline: float
    ) -> tuple[str | None, bytes]:
        """GET once: ``(redirect target, b"")`` or ``(None, body)``."""
        host = f"[{address}]" if ":" in address else address
        target = parsed.copy_with(host=host)
        headers = {"Host": parsed.netloc.decode("ascii"), "Accept": "image/*", "User-Agent": "Impasto"}
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        try:
            with client.stream("GET", target, headers=headers, extensions=extensions) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise UrlError("redirect without a location")
                    return location, b""
                if response.status_code != 200:
                    raise UrlError(f"the server answered {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise UrlTooLarge(f"the picture is larger than {self.max_bytes // (1024 * 1024)} MiB")
                chunks, total = [], 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise UrlTooLarge(f"the picture is larger than {self.max_bytes // (1024 * 1024)} MiB")
                    if time.monotonic() > deadline:
                        raise UrlError("the download took too long")
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise UrlError("the download took too long") from None
        except httpx.HTTPError as exc:
            raise UrlError(f"could not download the picture ({type(exc).__name__})") from None
        return None, b"".join(chunks)
