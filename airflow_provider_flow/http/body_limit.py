"""``max_response_bytes`` for one request, and a fix hint that fits the caller's case.

The limit counts *decoded* bytes and is enforced while the body is decoded (``http/decoding.py``), for every
response a request reads: the 2xx body, an error excerpt, a redirect's body. The hint depends on what the caller
can still change: advising ``output_path`` to a source that already streams to a file would send its user in a
circle, and a sink or an LLM call has no ``output_path`` at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_flow.errors import ResponseTooLargeError

#: The key under which the client hands a request's :class:`BodyLimit` to the decoding hook (request extensions
#: travel with the request, redirects included).
BODY_LIMIT_EXTENSION = "airflow_provider_flow.body_limit"


@dataclass(frozen=True)
class BodyLimit:
    """At most ``max_bytes`` decoded bytes per response of the request ``method`` ``safe_url`` (already redacted).

    ``to_file`` says whether the caller streams records to a file (``http.source`` with ``output_path``): True
    or False for a caller that has the option, None for one that has not."""

    max_bytes: int
    method: str
    safe_url: str
    to_file: bool | None = None

    def hint(self) -> str:
        if self.to_file:
            return (
                "records are already streamed to output_path, but each response must still fit: raise "
                "max_response_bytes, or request smaller pages (a smaller page size or limit parameter)"
            )
        if self.to_file is False:
            return "raise max_response_bytes, paginate, or stream to a file with output_path"
        return "raise max_response_bytes, or request less per response (paginate)"

    def exceeded(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"{self.method.upper()} {self.safe_url}: response exceeded max_response_bytes={self.max_bytes} "
            f"(decoded); {self.hint()}",
            details={"url": self.safe_url, "max_response_bytes": self.max_bytes},
        )
