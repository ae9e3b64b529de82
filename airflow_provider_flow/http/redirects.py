"""Redirects httpx would follow but this package must not: they leak credentials or silently drop a request body.

Installed as response hooks on the one client (``http/client.py``), so every request of every runtime is covered.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from airflow_provider_flow.errors import FlowError
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.redaction import is_secret_name


def secret_header_values(headers: httpx.Headers) -> list[str]:
    """Values of credential headers actually sent (the connection's and a node's own ``headers``)."""
    return [v for k, v in headers.items() if is_secret_name(k) and v]


def refuse_credential_redirects(settings: HttpSettings) -> Callable[[httpx.Response], None]:
    """httpx drops ``Authorization`` and ``Cookie`` on a redirect to another origin but keeps custom headers such
    as ``X-API-Key``; following such a redirect would hand the key to a foreign host, so it is refused. The headers
    are read from the request that was sent, so a node's own ``headers`` are covered, not only the connection's."""

    def check(response: httpx.Response) -> None:
        if not (response.is_redirect and settings.follow_redirects):
            return
        secret_headers = [
            k.decode("latin-1")
            for k, v in response.request.headers.raw
            if is_secret_name(k.decode("latin-1")) and v and k.lower() not in (b"authorization", b"cookie")
        ]
        if not secret_headers:
            return
        target = response.request.url.join(response.headers.get("location", ""))
        source = response.request.url
        if (target.scheme, target.host, target.port) != (source.scheme, source.host, source.port):
            raise FlowError(
                f"{response.request.method} {settings.safe_url(str(source))} redirects to another origin "
                f"({settings.safe_url(str(target))}); refusing to send the credential headers "
                f"({', '.join(secret_headers)}) there. Call the final URL directly or set follow_redirects=false",
                details={"status_code": response.status_code},
                retryable=False,
            )

    return check


def refuse_body_dropping_redirects(settings: HttpSettings) -> Callable[[httpx.Response], None]:
    """httpx follows browser rules: a 302/303 turns any method but HEAD into a bodiless GET, and so does a 301
    for POST. A sink would then take the GET's 2xx as "batch accepted" although the batch was never delivered."""

    def check(response: httpx.Response) -> None:
        method = response.request.method
        if not (response.is_redirect and settings.follow_redirects) or method in ("GET", "HEAD"):
            return
        if not (response.status_code in (302, 303) or (response.status_code == 301 and method == "POST")):
            return  # 307/308 (and a 301 of PUT/PATCH/DELETE) resend the same method with the same body
        target = response.request.url.join(response.headers.get("location", ""))
        raise FlowError(
            f"{method} {settings.safe_url(str(response.request.url))} answered {response.status_code} to "
            f"{settings.safe_url(str(target))}; following it would resend the request as a GET without its body. "
            "Use the final URL as the endpoint",
            details={"status_code": response.status_code, "location": settings.safe_url(str(target))},
            retryable=False,
        )

    return check


#: Longest ``Retry-After`` taken at face value: ``inf`` or ``1e20`` from a broken API would otherwise overflow the
#: ``timedelta`` of the Airflow retry delay downstream.
