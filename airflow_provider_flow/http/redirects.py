"""Redirects as httpx would follow them but this package must not: carrying credentials to another origin (the
headers are dropped for that hop) or silently dropping a request body (refused).

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
    """Never carry a credential to another origin: on a redirect to another scheme, host or port, the next hop goes
    without every connection header, ``Authorization`` and every node header marked sensitive (or named like a
    credential).

    httpx itself drops only ``Authorization`` and ``Cookie`` there, and keeps custom headers such as
    ``X-Auth-Key`` or ``Ocp-Apim-Subscription-Key``. httpx builds the next request from the headers of the one
    this response answers, so removing them from that (already sent) request removes them from every later hop;
    the target then answers for itself (a 401 if it wanted them), which is what a user can debug.
    """
    credentials = settings.credential_headers()

    def check(response: httpx.Response) -> None:
        if not (response.is_redirect and settings.follow_redirects):
            return
        source = response.request.url
        target = source.join(response.headers.get("location", ""))
        if (target.scheme, target.host, target.port) == (source.scheme, source.host, source.port):
            return
        headers = response.request.headers
        for name in [k for k in headers if k.lower() in credentials or is_secret_name(k)]:
            del headers[name]

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
