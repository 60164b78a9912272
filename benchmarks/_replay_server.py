"""A tiny loopback HTTP/1.1 server that answers with prepared bytes (run as a subprocess).

    python benchmarks/_replay_server.py DIR

``GET /.well-known/jmap`` gets ``DIR/session.json`` (``http://capture`` replaced by this
server's base URL); every other request gets ``DIR/reply.json``. Keep-alive, no
parsing beyond Content-Length: the server costs next to nothing per request, so a
benchmark against it measures the client. Prints its port on the first line of stdout.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

CAPTURE_BASE = b"http://capture"


def response(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    return head + body


class Replay(asyncio.Protocol):
    def __init__(self, session: bytes, reply: bytes) -> None:
        self.session = session
        self.reply = reply
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            assert self.transport is not None
            get_session = head.startswith("GET ") and "/.well-known/jmap" in head.split()[1]
            self.transport.write(self.session if get_session else self.reply)


async def main() -> None:
    where = Path(sys.argv[1])
    loop = asyncio.get_running_loop()
    raw_session = (where / "session.json").read_bytes()
    reply = response((where / "reply.json").read_bytes())
    holder: dict[str, bytes] = {}
    server = await loop.create_server(
        lambda: Replay(holder["session"], reply), "127.0.0.1", 0, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}".encode()
    holder["session"] = response(raw_session.replace(CAPTURE_BASE, base))
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
