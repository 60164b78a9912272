"""Session URLs (issue 9, point 5) come from the configured address, never the request's
``Host`` header: a ``Host: evil.example:666`` request must not steer a client's API,
upload, download or EventSource traffic elsewhere."""

from __future__ import annotations

import httpx
import pytest

from jmapchat.server import ChatServer, serve_in_thread

URL_KEYS = ("apiUrl", "downloadUrl", "uploadUrl", "eventSourceUrl")

pytestmark = pytest.mark.anyio


async def _session(server: ChatServer, base: str, host: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {server.tokens['alice']}", "Host": host}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app), base_url=base
    ) as client:
        r = await client.get("/.well-known/jmap", headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, str] = r.json()
    return out


async def test_host_header_does_not_steer_session_urls() -> None:
    with ChatServer(users=["alice"]) as server:
        s = await _session(server, "http://testserver", "evil.example:666")
    for key in URL_KEYS:
        assert "evil.example" not in s[key], (key, s[key])
        assert s[key].startswith("http://testserver/jmap/"), (key, s[key])


async def test_public_url_is_used_for_every_session_url() -> None:
    with ChatServer(users=["alice"], public_url="https://chat.example.org/base/") as server:
        s = await _session(server, "http://testserver", "evil.example:666")
    for key in URL_KEYS:
        assert s[key].startswith("https://chat.example.org/base/jmap/"), (key, s[key])


@pytest.mark.parametrize(
    "bad", ["ftp://x.example", "https://", "http://x.example/?q=1", "http://x.example/#f", "x"]
)
def test_public_url_must_be_a_plain_http_url(bad: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        ChatServer(public_url=bad)


def test_host_header_over_a_real_socket() -> None:
    with ChatServer(users=["alice"]) as server, serve_in_thread(server) as bind:
        base = bind if bind.startswith("http") else f"http://{bind}"
        headers = {"Authorization": f"Bearer {server.tokens['alice']}", "Host": "evil.example:666"}
        r = httpx.get(f"{base}/.well-known/jmap", headers=headers, timeout=30)
    assert r.status_code == 200
    for key in URL_KEYS:
        assert r.json()[key].startswith(f"{base}/jmap/"), (key, r.json()[key])


def test_cli_public_url_option(monkeypatch: pytest.MonkeyPatch) -> None:
    import trio

    import jmapchat.server
    from jmapchat.cli import main

    seen: dict[str, object] = {}

    class Recording(ChatServer):
        def __init__(self, *args: object, **kw: object) -> None:
            seen["public_url"] = kw.get("public_url")
            super().__init__(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(jmapchat.server, "ChatServer", Recording)
    monkeypatch.setattr(trio, "run", lambda *a, **k: None)
    argv = ["serve", "--db", ":memory:", "--public-url", "https://chat.example.org"]
    assert main(argv) == 0
    assert seen["public_url"] == "https://chat.example.org"
    assert main(["serve", "--db", ":memory:", "--public-url", "ftp://x"]) != 0
