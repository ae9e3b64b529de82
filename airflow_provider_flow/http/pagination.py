"""Pagination: the five ways an API says where the next page is, as config models and as one decision.

``link`` follows ``Link: <url>; rel="next"`` headers; ``cursor`` sends a value read from the body back as a query
parameter; ``next_url`` reads the next page's URL from the body; ``page`` and ``offset`` count, and stop at an
empty or short page. Paths into the body are :data:`~airflow_provider_flow.expressions.JmesPath` expressions,
checked when the config is validated and sandboxed like every other expression. Following the pages (the loop,
its limits, the origin check) is the ``http.source`` runtime's; this module only answers "which request next?".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.expressions import JmesPath, compile_expression


class LinkPagination(ConfigModel):
    """Follow ``Link: <url>; rel="next"`` headers (GitHub, many REST APIs)."""

    type: Literal["link"]


class CursorPagination(ConfigModel):
    """A cursor read from the body (``cursor_path``, JMESPath) is sent back as query parameter ``cursor_param``."""

    type: Literal["cursor"]
    cursor_path: JmesPath
    cursor_param: str = Field("cursor", min_length=1)


class NextUrlPagination(ConfigModel):
    """The body holds the next page's URL (``next_url_path``, JMESPath), e.g. ``next`` or ``links.next``."""

    type: Literal["next_url"]
    next_url_path: JmesPath


class PagePagination(ConfigModel):
    """A page counter query parameter; stops at an empty page (or a short one when ``page_size`` is given)."""

    type: Literal["page"]
    page_param: str = Field("page", min_length=1)
    start_page: int = Field(1, ge=0)
    page_size: int | None = Field(None, ge=1)
    page_size_param: str | None = None


class OffsetPagination(ConfigModel):
    """Offset/limit query parameters; stops at an empty or short page."""

    type: Literal["offset"]
    offset_param: str = Field("offset", min_length=1)
    limit_param: str = Field("limit", min_length=1)
    limit: int = Field(100, ge=1)
    start_offset: int = Field(0, ge=0)


HttpPagination = Annotated[
    LinkPagination | CursorPagination | NextUrlPagination | PagePagination | OffsetPagination,
    Field(discriminator="type"),
]


class Paginator:
    """Which request comes after a page, for one pagination config (None: a single request)."""

    def __init__(self, pagination: HttpPagination | None) -> None:
        self.pagination = pagination
        self._cursor = (
            compile_expression(pagination.cursor_path, field="pagination.cursor_path")
            if isinstance(pagination, CursorPagination)
            else None
        )
        self._next_url = (
            compile_expression(pagination.next_url_path, field="pagination.next_url_path")
            if isinstance(pagination, NextUrlPagination)
            else None
        )

    @property
    def reads_body(self) -> bool:
        """True when the next page is found in the JSON body (so the body must be JSON, not NDJSON)."""
        return isinstance(self.pagination, (CursorPagination, NextUrlPagination))

    def first_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The query parameters of the first request: the node's own plus the counter's start values."""
        first = dict(params or {})
        pagination = self.pagination
        if isinstance(pagination, PagePagination):
            first[pagination.page_param] = pagination.start_page
            if pagination.page_size and pagination.page_size_param:
                first[pagination.page_size_param] = pagination.page_size
        elif isinstance(pagination, OffsetPagination):
            first[pagination.offset_param] = pagination.start_offset
            first[pagination.limit_param] = pagination.limit
        return first

    def next_request(
        self,
        *,
        url: str,
        params: dict[str, Any] | None,
        count: int,
        links: Mapping[str, str],
        body: Any = None,
        response_url: str | None = None,
    ) -> tuple[str | None, dict[str, Any] | None]:
        """(URL, query parameters) of the next page, or (None, None) when this page was the last one.

        ``count`` is the number of records on the page just read; ``body`` its parsed JSON (None for NDJSON).
        """
        pagination = self.pagination
        if isinstance(pagination, LinkPagination):
            return links.get("next"), None
        if isinstance(pagination, CursorPagination):
            assert self._cursor is not None
            cursor = self._cursor.search(body)
            if cursor in (None, ""):
                return None, None
            return url, {**(params or {}), pagination.cursor_param: cursor}
        if isinstance(pagination, NextUrlPagination):
            assert self._next_url is not None
            found = self._next_url.search(body)
            if not found:
                return None, None
            return str(httpx.URL(response_url or url).join(str(found))), None
        if isinstance(pagination, PagePagination):
            short = pagination.page_size is not None and count < pagination.page_size
            if count == 0 or short:
                return None, None
            following = dict(params or {})
            following[pagination.page_param] = int(following[pagination.page_param]) + 1
            return url, following
        if isinstance(pagination, OffsetPagination):
            if count < pagination.limit:
                return None, None
            following = dict(params or {})
            following[pagination.offset_param] = int(following[pagination.offset_param]) + count
            return url, following
        return None, None
