"""Conditional GET for what pages fetch again and again (``/partials/...``, ``/api/v1/...``): an
ETag computed from the body, and ``304 Not Modified`` with no body when the browser already holds
that body (``If-None-Match``). The page still renders on the server; what is saved is the bytes on
the wire and the browser's work. Responses carry ``Cache-Control: private, no-cache``: the browser
keeps them for itself only and asks again every time."""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIXES = ("/partials/", "/api/v1/")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    return any(tag.strip() in ("*", wanted, "W/" + wanted) for tag in if_none_match.split(","))


class ConditionalGetMiddleware:
    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = PREFIXES) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        body = bytearray()

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _finish(start, bytes(body))

        async def _finish(start: Message, content: bytes) -> None:
            if start["status"] != 200:
                await send(start)
                await send({"type": "http.response.body", "body": content})
                return
            headers = MutableHeaders(scope=start)
            etag = etag_of(content)
            headers["ETag"] = etag
            headers["Cache-Control"] = "private, no-cache"
            if matches(if_none_match, etag):
                del headers["content-length"]
                if "content-type" in headers:
                    del headers["content-type"]
                await send({**start, "status": 304})
                await send({"type": "http.response.body", "body": b""})
                return
            await send(start)
            await send({"type": "http.response.body", "body": content})

        await self.app(scope, receive, buffered)
