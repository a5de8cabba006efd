"""The tool settings a user writes: MCP servers and [tools] in config.toml, tools in personas."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.errors import ConfigError, PersonaError
from chatbot.settings.personas import load_personas
from chatbot.settings.user_config import load_user_config


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_mcp_servers_and_tool_limits_are_read(tmp_path: Path) -> None:
    loaded = load_user_config(
        config(
            tmp_path,
            """
[mcp_servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { LOG_LEVEL = "warn" }
trust = true

[mcp_servers.search]
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer abc" }
timeout = 20

[tools]
max_rounds = 3
shell_timeout = 5
""",
        )
    )

    files, search = loaded.mcp_servers
    assert (files.name, files.command, files.args, files.trust) == (
        "files",
        "npx",
        ("-y", "@modelcontextprotocol/server-filesystem", "/tmp"),
        True,
    )
    assert files.env == {"LOG_LEVEL": "warn"} and files.transport == "stdio"
    assert (search.url, search.transport, search.timeout, search.trust) == (
        "https://mcp.example.com/mcp",
        "http",
        20.0,
        False,
    )
    assert (loaded.tools.max_rounds, loaded.tools.shell_timeout) == (3, 5.0)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[mcp_servers.a__b]\ncommand = "x"', "invalid MCP server name 'a__b'"),
        ('[mcp_servers.Files]\ncommand = "x"', "invalid MCP server name"),
        ("[mcp_servers.x]\ntrust = true", "set either command"),
        ('[mcp_servers.x]\ncommand = "a"\nurl = "http://b"', "set either command"),
        ('[mcp_servers.x]\nurl = "ftp://b"', "url must start with http"),
        ('[mcp_servers.x]\ncommand = "a"\nargs = "b"', "args must be a list of strings"),
        ('[mcp_servers.x]\ncommand = "a"\nenv = { A = 1 }', "env must be a table of strings"),
        ('[mcp_servers.x]\ncommand = "a"\ntrust = "yes"', "trust must be true or false"),
        ('[mcp_servers.x]\ncommand = "a"\nkommand = "b"', "unknown key 'kommand'"),
        ('[mcp_servers.x]\nurl = "http://b"\nargs = []', "args, env and cwd go with command"),
        ("[tools]\nmax_rounds = 0", "max_rounds must be a whole number from 1 to 100"),
        ("[tools]\nmax_rounds = 2.5", "max_rounds must be a whole number"),
        ("[tools]\nshell_timeout = -1", "shell_timeout must be a number of seconds"),
        ("[tools]\nrounds = 3", "unknown key 'rounds'"),
    ],
)
def test_mistakes_are_one_line_naming_the_file(tmp_path: Path, text: str, says: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_user_config(path)
    message = str(caught.value)
    assert str(path) in message and says in message and "\n" not in message


def test_a_persona_chooses_its_tools(tmp_path: Path) -> None:
    personas = tmp_path / "personas.toml"
    personas.write_text(
        '[personas.ops]\nsystem = "You run things."\ntools = ["shell", "files", "search__query"]\n'
        '[personas.quiet]\nsystem = "No tools."\ntools = []\n',
        encoding="utf-8",
    )

    book = load_personas(extra_files=[personas])

    assert book.get("ops").tools == ("shell", "files", "search__query")
    assert book.get("quiet").tools == ()


@pytest.mark.parametrize("value", ['"shell"', '["shell", 3]', '["rm -rf"]'])
def test_a_bad_tools_list_is_one_line(tmp_path: Path, value: str) -> None:
    personas = tmp_path / "personas.toml"
    personas.write_text(f'[personas.ops]\nsystem = "x"\ntools = {value}\n', encoding="utf-8")

    with pytest.raises(PersonaError) as caught:
        load_personas(extra_files=[personas])
    assert "persona 'ops'" in str(caught.value) and "tools" in str(caught.value)


def test_an_http_server_may_name_its_transport(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[mcp_servers.old]\nurl = "http://127.0.0.1:9/sse"\ntransport = "sse"\n'
        '[mcp_servers.new]\nurl = "http://127.0.0.1:9/mcp"\n',
        encoding="utf-8",
    )
    old, new = load_user_config(path).mcp_servers
    assert (old.transport, old.http_transport) == ("sse", "sse")
    assert (new.transport, new.http_transport) == ("http", "")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            'url = "http://h/mcp"\ntransport = "websocket"',
            "transport must be streamable-http or sse",
        ),
        ('command = "x"\ntransport = "sse"', "transport 'sse' goes with url, not command"),
    ],
)
def test_a_wrong_transport_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[mcp_servers.s]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=says):
        load_user_config(path)
