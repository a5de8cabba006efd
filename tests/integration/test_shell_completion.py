"""``chatbot --completion bash|zsh|fish``: the script, and what Tab then offers in a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import RUN_TIMEOUT, chatbot_executable, run_chatbot


def bash_completions(line: str, *, home: Path) -> list[str]:
    """What bash offers for ``line`` after loading ``chatbot --completion bash``."""
    script = (
        "source <(chatbot --completion bash)\n"
        'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}\n'
        'read -ra COMP_WORDS <<< "$1"\n'
        '[[ "$1" == *" " ]] && COMP_WORDS+=("")\n'
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        '_python_argcomplete chatbot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {
        **os.environ,
        "PATH": f"{Path(chatbot_executable()).parent}{os.pathsep}{os.environ['PATH']}",
        "CHATBOT_CONFIG_DIR": str(home / "config"),
        "CHATBOT_DATA_DIR": str(home / "data"),
    }
    done = subprocess.run(
        ["bash", "-c", script, "complete", line],
        capture_output=True,
        text=True,
        env=env,
        timeout=RUN_TIMEOUT,
        check=True,
    )
    return sorted(word.strip() for word in done.stdout.splitlines() if word.strip())


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_flags_personas_and_sub_commands(isolated_environment: Path) -> None:
    home = isolated_environment
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "personas.toml").write_text(
        "[personas.sql-helper]\ndescription = 'SQL'\nsystem = 'You write SQL.'\n"
    )

    assert bash_completions("chatbot --pers", home=home) == ["--persona", "--personas"]
    assert bash_completions("chatbot --sys", home=home) == ["--system"]
    personas = bash_completions("chatbot -p ", home=home)
    assert "it-support" in personas and "sql-helper" in personas, "your own personas too"
    assert bash_completions("chatbot sess", home=home) == ["sessions"]
    assert bash_completions("chatbot export 3 --format ", home=home) == ["json", "md"]
    assert bash_completions("chatbot --completion ", home=home) == ["bash", "fish", "zsh"]
    assert "--search" in bash_completions("chatbot sessions --", home=home)
    # The model sub-commands too, through their own parser.
    assert bash_completions("chatbot pu", home=home) == ["pull"]
    assert bash_completions("chatbot mod", home=home) == ["models"]
    assert "--help" in bash_completions("chatbot pull --", home=home)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_shell_gets_a_script_that_parses(shell: str) -> None:
    result = run_chatbot("--completion", shell)

    assert result.returncode == 0, result
    assert result.stderr == ""
    assert "chatbot" in result.stdout and "_ARGCOMPLETE" in result.stdout
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed: printed, but not syntax-checked")
    checked = subprocess.run(
        [shell, "-n"], input=result.stdout, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = run_chatbot("--completion", "tcsh")
    assert result.returncode == 2
    assert "invalid choice: 'tcsh'" in result.stderr


def test_an_ordinary_start_never_imports_argcomplete() -> None:
    # Start-up time matters: completion is loaded only while completing.
    probe = (
        "import io, sys\n"
        "from chatbot.cli.main import main\n"
        "main(['--help'], stdout=io.StringIO())\n"
        "print('argcomplete' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_fish_completes_personas_with_descriptions(isolated_environment: Path) -> None:
    home = isolated_environment
    env = {
        **os.environ,
        "PATH": f"{Path(chatbot_executable()).parent}{os.pathsep}{os.environ['PATH']}",
        "CHATBOT_CONFIG_DIR": str(home / "config"),
        "CHATBOT_DATA_DIR": str(home / "data"),
    }
    script = (
        'chatbot --completion fish | source; complete -C "chatbot --pers"; '
        'complete -C "chatbot -p "'
    )
    done = subprocess.run(
        ["fish", "-c", script], capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT
    )
    lines = done.stdout.splitlines()
    assert "--persona\tpersona to use (see --list-personas)" in lines
    assert "it-support" in lines
