"""A TCP proxy in front of a database server, run in the test process, that a test can cut or stall.

``cut()`` is the server going away: every open connection is reset and new ones are refused at
once. ``stall()`` is a partition: connections stay open and are accepted, but no byte crosses in
either direction until ``restore()``, when what was held is delivered as if the network had only
been slow. The proxy runs its own asyncio loop on a thread, so a test drives it with plain calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing: asyncio.Event | None = None
        self._refusing = False
        self.port = 0
        self.connections = 0
        """Connections accepted so far (a test can tell that a client came back)."""

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """Reset every connection and refuse new ones (a server that is down)."""
        self._call(self._cut())

    def stall(self) -> None:
        """Hold every byte in both directions, on open and new connections (a partition)."""
        self._call(self._set_flowing(False))

    def restore(self) -> None:
        """Forward again: held bytes are delivered, new connections reach the server."""
        self._call(self._restore())

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_flowing(self, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _cut(self) -> None:
        self._refusing = True
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _restore(self) -> None:
        self._refusing = False
        await self._set_flowing(True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            _reset(client_writer)
            return
        self.connections += 1
        assert self._flowing is not None
        await self._flowing.wait()
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            _reset(client_writer)
            return
        if self._refusing:  # cut while connecting
            _reset(client_writer)
            _reset(server_writer)
            return
        self._writers |= {client_writer, server_writer}
        await asyncio.gather(
            self._pump(client_reader, server_writer, client_writer),
            self._pump(server_reader, client_writer, server_writer),
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, other: asyncio.StreamWriter
    ) -> None:
        assert self._flowing is not None
        try:
            while chunk := await reader.read(CHUNK):
                await self._flowing.wait()
                if writer not in self._writers:
                    break
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for end in (writer, other):
                if end in self._writers:
                    self._writers.discard(end)
                    with contextlib.suppress(Exception):
                        end.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST), as a server host that went away does, not a polite FIN."""
    transport = writer.transport
    with contextlib.suppress(Exception):
        transport.abort()
