# ruff: noqa: PT018
"""The real ``jmapchat`` command in a subprocess against a real server
(``jmapchat serve --port 0`` on a temporary database)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from jmapchat import Client, __version__
from jmapchat.models import ChatCreate
from jmapchat.server import ChatServer, serve_in_thread

from ._serve import ServeProcess, jmapchat


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path_factory.mktemp("serve")).start()
    try:
        yield server
    finally:
        server.stop()


def one_line_error(out: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jmapchat: error: "), out.stderr
    assert fragment in lines[0], lines[0]


def test_version_from_the_entry_point_and_python_m() -> None:
    out = jmapchat("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"jmapchat {__version__}"
    script = Path(sys.executable).with_name("jmapchat")
    if script.exists():
        via_script = subprocess.run([str(script), "--version"], capture_output=True, text=True)
        assert via_script.stdout == out.stdout


def test_serve_port_zero_prints_the_real_port_and_a_busy_port_is_one_line(
    served: ServeProcess, tmp_path: Path
) -> None:
    assert served.port > 0
    with socket.create_connection(("127.0.0.1", served.port), timeout=10):
        pass
    busy = jmapchat("serve", "--db", str(tmp_path / "x.sqlite"), "--port", str(served.port))
    one_line_error(busy, "Address already in use")


def test_session_chats_send_history_with_json(served: ServeProcess) -> None:
    env = served.env()
    session = jmapchat("--json", "session", env=env)
    assert session.returncode == 0, session.stderr
    assert json.loads(session.stdout)["username"] == "alice"
    call = jmapchat(
        "--json",
        "call",
        env=env,
        input=json.dumps(
            {
                "using": ["urn:ietf:params:jmap:chat"],
                "methodCalls": [
                    ["Chat/set", {"create": {"c": {"kind": "direct", "contactId": "bob"}}}, "a"]
                ],
            }
        ),
    )
    assert call.returncode == 0, call.stderr
    name, args, call_id = json.loads(call.stdout)["methodResponses"][0]
    assert (name, call_id) == ("Chat/set", "a")
    chat_id = (args.get("created") or {}).get("c", {}).get("id") or next(iter(args["updated"]))
    sent = jmapchat("--json", "send", chat_id, "hello from the CLI", env=env)
    assert sent.returncode == 0, sent.stderr
    message_id = json.loads(sent.stdout)["id"]
    history = jmapchat("--json", "history", chat_id, env=env)
    assert [(m["id"], m["body"]) for m in json.loads(history.stdout)][-1] == (
        message_id,
        "hello from the CLI",
    )
    listed = json.loads(jmapchat("chats", "--json", env=env).stdout)  # --json after works too
    assert chat_id in {c["id"] for c in listed}


def test_human_output_is_rich_tables_in_process(
    served: ServeProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jmapchat.cli import main

    for name, value in served.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")
    with Client.connect(served.url, token=served.env()["JMAPCHAT_TOKEN"]) as client:
        made = client.chat.set(create={"c": ChatCreate.direct("bob")})
        chat_id = made.created["c"].id if "c" in made.created else next(iter(made.updated))
    assert main(["session"]) == 0
    out = capsys.readouterr().out
    assert "maxObjectsInSet" in out and "alice" in out
    assert main(["send", chat_id, "a table row"]) == 0
    assert main(["chats"]) == 0
    out = capsys.readouterr().out
    assert chat_id in out and "direct" in out
    assert main(["history", chat_id, "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "a table row" in out and "received" in out


def test_call_explain_sends_nothing(served: ServeProcess, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "using": ["urn:ietf:params:jmap:chat"],
                "methodCalls": [
                    ["Chat/query", {}, "q"],
                    [
                        "Chat/get",
                        {"#ids": {"resultOf": "q", "name": "Chat/query", "path": "/ids"}},
                        "g",
                    ],
                ],
            }
        )
    )
    log = served.tmp / f"serve-{served.starts}.log"
    posts = log.read_text().count("POST /jmap/api")
    offline = jmapchat("call", "--explain", str(request))  # no server needed
    assert offline.returncode == 0, offline.stderr
    assert "q  Chat/query" in offline.stdout and "g  Chat/get" in offline.stdout
    online = jmapchat("call", "--explain", str(request), env=served.env())
    assert "split plan: 1 HTTP request(s)" in online.stdout
    assert log.read_text().count("POST /jmap/api") == posts  # the session only: no request


def test_import_export_round_trip_and_rerun(served: ServeProcess, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [{"type": "chat", "id": "G", "kind": "group", "name": "cli-import", "members": ["bob"]}]
    lines += [
        {
            "type": "message",
            "id": f"x{i}",
            "chat": "G",
            "body": f"imported {i}",
            "sentAt": "2024-05-06T07:08:09Z",
            **({"replyTo": "x0"} if i == 2 else {}),
        }
        for i in range(5)
    ]
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    env = served.env()
    first = jmapchat("--json", "import", str(source), env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["written"] == 5
    human = jmapchat("import", str(source), env={**env, "TTY_COMPATIBLE": "1"})
    assert human.returncode == 0 and "written" in human.stdout
    assert "5/5" in human.stderr and "msg/s" in human.stderr  # the progress bar
    again = json.loads(jmapchat("--json", "import", str(source), env=env).stdout)
    assert (again["written"], again["skipped"]) == (0, 5)
    out = tmp_path / "out.jsonl"
    exported = jmapchat("--json", "export", "-o", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    mine = [r for r in rows if r["type"] == "message" and r["body"].startswith("imported")]
    assert [r["body"] for r in mine] == [f"imported {i}" for i in range(5)]
    assert mine[2]["replyTo"] == mine[0]["id"]


def run_tail(
    env: dict[str, str], send: Callable[[], None], interval: str = "3600"
) -> dict[str, Any]:
    """``jmapchat --json tail --count 1`` in a subprocess; ``send()`` once it listens; the
    line it prints. Polling hourly by default: only a push delivers before the timeout."""
    args = ["--json", "tail", "--count", "1", "--interval", interval]
    tail = subprocess.Popen(
        [sys.executable, "-m", "jmapchat", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        assert "listening" in tail.stderr.readline()  # subscribed, its starting state taken
        send()
        out, err = tail.communicate(timeout=60)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait(30)
    assert tail.returncode == 0, err
    assert "Traceback" not in err
    row: dict[str, Any] = json.loads(out.splitlines()[0])
    return row


def test_tail_prints_messages_pushed_from_another_user(served: ServeProcess) -> None:
    bob_env = served.env("bob")
    with Client.connect(served.url, token=bob_env["JMAPCHAT_TOKEN"]) as bob:
        made = bob.chat.set(create={"c": ChatCreate.direct("alice")})
        chat_id = made.created["c"].id if "c" in made.created else next(iter(made.updated))

    def send() -> None:
        sent = jmapchat("send", chat_id, "tail me", env=bob_env)
        assert sent.returncode == 0, sent.stderr

    row = run_tail(served.env("alice"), send)
    assert row["body"] == "tail me"
    assert row["senderId"] != ""


def test_tail_polls_a_server_without_an_event_source() -> None:
    """A session without ``eventSourceUrl``: ``events()`` raises CapabilityNotSupported
    and tail polls ``Message/changes`` instead."""
    with ChatServer(users=["alice", "bob"]) as server:
        quiet = _NoEventSource(server.app)
        with (
            serve_in_thread(cast("ChatServer", quiet)) as url,
            Client.connect(url, token=server.tokens["alice"]) as alice,
        ):
            assert alice.session.event_source_url == ""
            made = alice.chat.set(create={"g": ChatCreate.group(name="g", member_ids=["bob"])})
            chat_id = made.created["g"].id

            def send() -> None:
                alice.message.send(chat_id, "polled")

            env = {"JMAPCHAT_URL": url, "JMAPCHAT_TOKEN": server.tokens["alice"]}
            assert run_tail(env, send, interval="0.1")["body"] == "polled"


class _NoEventSource:
    """The reference server's app, with ``eventSourceUrl`` taken out of the session."""

    def __init__(self, app: Any) -> None:
        self.inner = app

    @property
    def app(self) -> Any:
        return self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in ("/.well-known/jmap", "/jmap/session"):
            await self.inner(scope, receive, send)
            return
        started: dict[str, Any] = {}

        async def rewrite(message: Any) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                return
            doc = json.loads(message["body"])
            doc.pop("eventSourceUrl", None)
            body = json.dumps(doc).encode()
            headers = [(k, v) for k, v in started["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**started, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.inner(scope, receive, rewrite)


def test_errors_are_one_line_and_non_zero(served: ServeProcess) -> None:
    """Over the wire, as a user meets them: a wrong token, a server that is not there."""
    bad_token = {**served.env(), "JMAPCHAT_TOKEN": "wrong"}
    one_line_error(jmapchat("chats", env=bad_token), "401")
    refused = jmapchat("chats", env={"JMAPCHAT_URL": "http://127.0.0.1:9", "JMAPCHAT_TOKEN": "t"})
    one_line_error(refused, "127.0.0.1:9")


def test_bad_input_is_one_line_in_process(
    served: ServeProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same ``main()`` in-process (fast): each bad input is one line and exit 1 or 2."""
    from jmapchat.cli import main

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    for name, value in served.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JMAPCHAT_URL", "")
    one_line_error(run("chats"), "no server")
    monkeypatch.setenv("JMAPCHAT_URL", served.url)
    one_line_error(run("import", str(tmp_path / "missing.jsonl")), "missing")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "message", "id": "m"}\n{not json\n')
    one_line_error(run("import", str(bad)), "bad.jsonl:1")
    one_line_error(run("call", stdin="[1, 2]"), "methodCalls")
    one_line_error(run("call", stdin="{nope"), "not JSON")
    one_line_error(run("--token-file", str(tmp_path / "none.json"), "chats"), "none.json")
    usage = run("history")
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr
    assert "Missing argument" in usage.stderr


def test_import_a_slack_export_directory_in_process(
    served: ServeProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``jmapchat import DIR`` recognises a Slack export; the journal lands next to it."""
    from jmapchat.cli import main

    from ..bulk.test_importer import slack_export

    slack_export(tmp_path / "slack")
    for name, value in served.env().items():
        monkeypatch.setenv(name, value)
    assert main(["import", str(tmp_path / "slack"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == 4
    assert report["journal"] == str(tmp_path / "slack.journal.sqlite")
    assert main(["--json", "import", str(tmp_path / "slack")]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 4
