"""Content-Encoding decoded in bounded pieces, with the size limit checked while decoding, not after.

httpx decodes each network chunk whole, through every layer: a 2 KB body of ten stacked gzip layers becomes
gigabytes in one call, before any size check can run. Here every layer is a lazy zlib ``decompressobj`` loop with
``max_length`` (the rest of its input waits in ``unconsumed_tail``), so no layer ever hands on more than
:data:`PIECE_BYTES` at a time and memory stays a small multiple of that whatever the number of layers; the
request's :class:`~airflow_provider_flow.http.body_limit.BodyLimit` is checked after every piece.

Installed as the first response hook of the one client: the hook swaps the response's byte stream for a decoded one
and drops ``Content-Encoding`` so httpx does not decode again. Supported: gzip (``x-gzip``), deflate (zlib-wrapped,
or raw as some servers send it) and identity. brotli and zstd libraries are not part of the locked environment, so
``br`` and ``zstd`` are neither advertised (:data:`ACCEPT_ENCODING`) nor decoded: a server sending them anyway gets
a clear, non-retryable error naming the encoding.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

from airflow_provider_flow.http.body_limit import BODY_LIMIT_EXTENSION, BodyLimit

#: Largest piece one layer hands to the next (and the caller): the unit memory is bounded in.
PIECE_BYTES = 64 * 1024

#: Most encoding layers accepted: real servers use one; each layer costs a zlib state (~40 KB).
MAX_LAYERS = 16

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_ALIASES = {"x-gzip": "gzip"}

#: The ``Accept-Encoding`` the client sends: exactly what :func:`decoded_pieces` can decode.
ACCEPT_ENCODING = ", ".join(_WBITS)


def content_codings(headers: httpx.Headers) -> list[str]:
    """The codings of a body in the order they were applied (``identity`` dropped), from every
    ``Content-Encoding`` header line."""
    tokens = (token.strip().lower() for value in headers.get_list("content-encoding") for token in value.split(","))
    return [_ALIASES.get(token, token) for token in tokens if token and token != "identity"]


def _inflate(pieces: Iterator[bytes], coding: str) -> Iterator[bytes]:
    """One layer: ``pieces`` decoded, at most :data:`PIECE_BYTES` per yield, lazily."""
    decoder = zlib.decompressobj(_WBITS[coding])
    first = True
    for data in pieces:
        if not data:
            continue
        while not decoder.eof:
            try:
                out = decoder.decompress(data, PIECE_BYTES)
            except zlib.error as exc:
                if first and coding == "deflate":  # raw deflate, without the zlib wrapper
                    decoder, first = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise httpx.DecodingError(f"the {coding} layer of the body is corrupt ({exc})") from None
            first = False
            data = decoder.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < PIECE_BYTES:  # input used up and nothing left pending inside zlib
                break
        if decoder.eof:
            break
    # Bytes after the end of the layer's stream are ignored, as httpx does. A little is still read, so the
    # connection ends its response cleanly and can be reused, but never more than one piece's worth.
    trailing = 0
    for data in pieces:
        trailing += len(data)
        if trailing > PIECE_BYTES:
            return


def decoded_pieces(raw: Iterator[bytes], codings: list[str]) -> Iterator[bytes]:
    """``raw`` with ``codings`` (in the order applied) undone, outermost first."""
    unsupported = [coding for coding in codings if coding not in _WBITS]
    if unsupported:
        raise httpx.DecodingError(
            f"unsupported Content-Encoding {unsupported[0]!r}: this client decodes {ACCEPT_ENCODING} and identity "
            "and asks for nothing else (Accept-Encoding); ask the API to send one of those"
        )
    if len(codings) > MAX_LAYERS:
        raise httpx.DecodingError(f"{len(codings)} Content-Encoding layers; at most {MAX_LAYERS} are decoded")
    pieces = raw
    for coding in reversed(codings):
        pieces = _inflate(pieces, coding)
    return pieces


class DecodedBody(httpx.SyncByteStream):
    """A response's raw byte stream, decoded in bounded pieces and cut off past the request's limit.

    ``keep`` (a redirect's body: httpx reads it whole, then drops it) ends the body quietly after that many bytes,
    so a redirect cannot make httpx hold a bomb in memory even when the caller set no limit."""

    def __init__(
        self, raw: httpx.SyncByteStream, codings: list[str], limit: BodyLimit | None, keep: int | None = None
    ) -> None:
        self._raw = raw
        self._codings = codings
        self._limit = limit
        self._keep = keep

    def __iter__(self) -> Iterator[bytes]:
        decoded = 0
        for piece in decoded_pieces(iter(self._raw), self._codings):
            if self._keep is not None and decoded + len(piece) > self._keep:
                return
            decoded += len(piece)
            if self._limit is not None and decoded > self._limit.max_bytes:
                raise self._limit.exceeded()
            yield piece

    def close(self) -> None:
        self._raw.close()


def decode_within_limits(response: httpx.Response) -> None:
    """Response hook: the body is read through :class:`DecodedBody` (httpx then sees an identity body).

    The request's limit applies to a 2xx body; an error body is read only as far as its excerpt, so a small
    ``max_response_bytes`` never hides the status (a retryable 503) behind a size error."""
    limit = response.request.extensions.get(BODY_LIMIT_EXTENSION) if response.is_success else None
    assert isinstance(response.stream, httpx.SyncByteStream)  # the one client is synchronous
    keep = PIECE_BYTES if response.has_redirect_location else None
    response.stream = DecodedBody(response.stream, content_codings(response.headers), limit, keep)
    if "content-encoding" in response.headers:
        del response.headers["content-encoding"]
