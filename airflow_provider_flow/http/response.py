"""A 2xx response, read whole (bounded) or streamed under the overall deadline and the size guard.

Reading the body is where a slow or oversized response shows. Every network read of the body runs under the
request's deadline (:mod:`.deadline`) and every chunk passes the deadline check of the
:class:`~airflow_provider_flow.http.failures.FailureMapper`; ``max_response_bytes`` is enforced while the body is
decoded (:mod:`.decoding`), so chunks arrive here already bounded. Neither form ever prints its body or a
credential in its ``repr``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from airflow_provider_flow.core.jsontext import loads_json
from airflow_provider_flow.core.lines import line_batches
from airflow_provider_flow.errors import InvalidResponseError, NestingTooDeepError
from airflow_provider_flow.http.deadline import RequestDeadline, deadline_scope
from airflow_provider_flow.http.failures import FailureMapper
from airflow_provider_flow.redaction import redact_text, redact_url


@dataclass
class HttpResponse:
    """A fully read 2xx response (body bounded by ``max_response_bytes``)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    method: str
    secrets: tuple[str, ...] = ()
    """The connection's credential values, scrubbed from error text (a 2xx body may echo a key back)."""

    def __repr__(self) -> str:  # no body (megabytes, maybe an echoed key), no secrets, no secret query values
        safe_url = redact_text(redact_url(self.url), self.secrets)
        return f"HttpResponse({self.status_code} {self.method} {safe_url}, {len(self.content)} bytes)"

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return loads_json(
                self.content,
                source=lambda: f"the {self.method} response from {redact_text(redact_url(self.url), self.secrets)}",
            )
        except NestingTooDeepError:
            raise  # a ValueError too, but not "not JSON"
        except ValueError as exc:
            excerpt = redact_text(self.text[:200], self.secrets)
            safe_url = redact_text(redact_url(self.url), self.secrets)
            raise InvalidResponseError(
                f"{self.method} {safe_url} returned status {self.status_code} but the body is not JSON "
                f"({exc}); body starts with {excerpt!r}",
                details={"url": safe_url, "status_code": self.status_code},
            ) from None

    @property
    def links(self) -> dict[str, str]:
        """``rel -> absolute URL`` from the ``Link`` header."""
        result: dict[str, str] = {}
        header = self.headers.get("link")
        if not header:
            return result
        for link in httpx.Response(200, headers={"link": header}).links.values():
            rel, url = link.get("rel"), link.get("url")
            if rel and url:
                result[rel] = str(httpx.URL(self.url).join(url))
        return result


class StreamedResponse:
    """A 2xx response being read incrementally, under the overall deadline and the size guard."""

    def __init__(self, failures: FailureMapper, response: httpx.Response, deadline: RequestDeadline | None) -> None:
        self._failures = failures
        self._response = response
        self._deadline = deadline
        self.bytes_read = 0
        self.status_code = response.status_code
        self.headers = response.headers
        self.url = str(response.url)
        self.method = response.request.method

    @property
    def links(self) -> dict[str, str]:
        return HttpResponse(self.status_code, self.headers, b"", self.url, self.method).links

    def iter_bytes(self) -> Iterator[bytes]:
        """Body chunks as they arrive from the network (never buffered up to a size, so deadlines are checked).

        Only pulling a chunk runs under the deadline scope: the scope must not stay set while this generator is
        suspended, or it would govern whatever the consumer sends in between."""
        deadline_at = self._deadline.at if self._deadline is not None else None
        with self._failures.mapped(self.method, self.url, deadline_at):
            chunks = self._response.iter_bytes()
            while True:
                with deadline_scope(self._deadline, "body"):
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                self.bytes_read += len(chunk)
                if self._deadline is not None and self._deadline.left() <= 0:  # a chunk decoded slowly, say
                    raise self._deadline.expired(f"while reading the body (after {self.bytes_read} bytes)")
                yield chunk

    def iter_lines(self) -> Iterator[bytes]:
        """Complete lines (without the newline); a partial trailing line is yielded at the end."""
        for lines in self.iter_line_batches():
            yield from lines

    def iter_line_batches(self) -> Iterator[list[bytes]]:
        """The complete lines (without the newline) of each chunk as it arrives, as one list, so per-chunk work
        (hashing, progress) is done once per chunk, not per line; a partial trailing line comes last."""
        for lines, _block, _rest in line_batches(self.iter_bytes()):
            yield lines

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())
