from __future__ import annotations

import io
import json
from pathlib import Path

from chatbot.cli import main
from tests.support.fakeserver import FakeOpenAIServer, Reply

KEY = "sk-proj-REALLYSECRET0123456789abcdef"


def run(args: list[str], server: FakeOpenAIServer, home: Path) -> tuple[int, str, str]:
    environ = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": server.base_url,
        "CHATBOT_CONFIG_DIR": str(home / "config"),
        "CHATBOT_DATA_DIR": str(home / "data"),
        "CHATBOT_LOCAL": "0",
    }
    stdout, stderr = io.StringIO(), io.StringIO()
    stdin = io.StringIO("")
    stdin.isatty = lambda: True  # type: ignore[method-assign]
    code = main(list(args), environ=environ, stdin=stdin, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_debug_log_records_requests_and_errors_without_the_key(
    server: FakeOpenAIServer, isolated_environment: Path
) -> None:
    server.enqueue(
        Reply(text="hello"),
        Reply(status=401, error_body={"error": {"message": f"Incorrect API key provided: {KEY}"}}),
    )
    assert run(["--debug", "first"], server, isolated_environment)[0] == 0
    code, _, err = run(["--debug", "second"], server, isolated_environment)
    assert code == 1
    assert KEY not in err
    log = isolated_environment / "data" / "debug.log"
    assert log.stat().st_mode & 0o777 == 0o600
    text = log.read_text()
    assert KEY not in text
    events = [json.loads(line)["event"] for line in text.splitlines()]
    assert events.count("request") == 2
    assert "error" in events
    assert any("first" in line for line in text.splitlines())


def test_no_debug_log_unless_asked(server: FakeOpenAIServer, isolated_environment: Path) -> None:
    run(["hello"], server, isolated_environment)
    assert not (isolated_environment / "data" / "debug.log").exists()
