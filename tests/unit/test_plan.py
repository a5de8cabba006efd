"""The plan step: settings in, a decision out, with no network and no process.

Every case here runs with no server listening anywhere: a plan that tried to
connect or start something would fail or hang, not pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.engine.plan import LATEST, RunRequest, plan_run
from chatbot.errors import ConfigError, PersonaError
from chatbot.servers.choice import EmbeddedPlan, FindPlan, RemotePlan
from chatbot.settings.config import OPENAI_BASE_URL, SETUP_HELP, ConfigFlags
from chatbot.settings.paths import AppPaths


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


def plan(paths: AppPaths, env: dict[str, str] | None = None, **asked: object):  # type: ignore[no-untyped-def]
    flags = ConfigFlags(**{k: v for k, v in asked.items() if k in ConfigFlags.__slots__})
    rest = {k: v for k, v in asked.items() if k not in ConfigFlags.__slots__}
    return plan_run(RunRequest(flags=flags, **rest), environ=env or {}, paths=paths)


def test_a_key_alone_plans_openai(paths: AppPaths) -> None:
    planned = plan(paths, {"OPENAI_API_KEY": "sk-test"})
    assert planned.server == RemotePlan(OPENAI_BASE_URL)


def test_a_base_url_plans_that_server_and_its_password_is_a_secret(paths: AppPaths) -> None:
    planned = plan(paths, base_url="http://user:hunter2@127.0.0.1:9/v1/")
    assert planned.server == RemotePlan("http://user:hunter2@127.0.0.1:9/v1")
    assert "hunter2" not in planned.redact("failed at http://user:hunter2@127.0.0.1:9/v1")


def test_nothing_configured_plans_a_look_on_loopback_then_our_model(paths: AppPaths) -> None:
    planned = plan(paths, {"CHATBOT_DISCOVER_PORTS": "ollama=11434"})
    assert isinstance(planned.server, FindPlan)
    assert [probe.port for probe in planned.server.probes] == [11434]
    # The local extra is installed in the test environment.
    assert planned.server.fallback == EmbeddedPlan(model=None, reason="default")


def test_chatbot_local_0_with_nothing_configured_is_the_setup_help_at_once(
    paths: AppPaths,
) -> None:
    with pytest.raises(ConfigError) as caught:
        plan(paths, {"CHATBOT_LOCAL": "0"})
    assert str(caught.value) == SETUP_HELP


def test_local_flags_plan_our_server_and_its_tuned_personas(paths: AppPaths) -> None:
    planned = plan(paths, local_model="qwen2.5-0.5b")
    assert planned.server == EmbeddedPlan(model="qwen2.5-0.5b", reason="flag")
    tuned = planned.persona(embedded=True)
    assert tuned.system != planned.persona(embedded=False).system
    assert "local-personas.toml" in tuned.source


def test_a_persona_that_asks_for_the_local_model_gets_it_unless_a_base_url_is_typed(
    paths: AppPaths,
) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.user_personas.write_text(
        '[personas.offline]\nsystem = "Be brief."\nprovider = "local"\n', encoding="utf-8"
    )
    env = {"OPENAI_API_KEY": "sk-test"}
    assert plan(paths, env, persona="offline").server == EmbeddedPlan(model=None, reason="persona")
    typed = plan(paths, env, persona="offline", base_url="http://127.0.0.1:9/v1")
    assert typed.server == RemotePlan("http://127.0.0.1:9/v1")


def test_settings_mistakes_are_found_in_the_plan(paths: AppPaths) -> None:
    env = {"OPENAI_API_KEY": "sk-test"}
    with pytest.raises(PersonaError, match="unknown persona 'pirat'"):
        plan(paths, env, persona="pirat")
    with pytest.raises(ConfigError, match="need the store"):
        plan(paths, env, no_store=True, resume=LATEST)
    with pytest.raises(ConfigError, match="--think must be show, fold or hide"):
        plan(paths, env, think="loud")
    with pytest.raises(ConfigError, match="CHATBOT_MAX_TOOL_ROUNDS"):
        plan(paths, {**env, "CHATBOT_MAX_TOOL_ROUNDS": "lots"})


def test_system_replaces_only_the_prompt_of_the_persona(paths: AppPaths) -> None:
    planned = plan(paths, {"OPENAI_API_KEY": "sk-test"}, persona="it-support", system="Be terse.")
    persona = planned.persona(embedded=False)
    assert (persona.name, persona.system, persona.source) == ("it-support", "Be terse.", "--system")


def test_the_store_path_follows_the_flag_and_no_store(paths: AppPaths) -> None:
    env = {"OPENAI_API_KEY": "sk-test"}
    assert plan(paths, env).store_path == paths.store
    assert plan(paths, env, db="/tmp/elsewhere.db").store_path == Path("/tmp/elsewhere.db")
    assert plan(paths, env, no_store=True).store_path is None


def test_knowledge_bases_are_checked_while_planning(paths: AppPaths) -> None:
    from chatbot.knowledge.base_file import BaseFile

    env = {"OPENAI_API_KEY": "sk-test"}
    assert not plan(paths, env).knowledge.any_base  # no base: nothing to open later
    BaseFile.open(paths.data_dir, "it", create=True).close()
    planned = plan(paths, env, knowledge=("IT", "it"), knowledge_share=0.4)
    assert (planned.knowledge.chosen, planned.knowledge.share) == (("it",), 0.4)
    assert planned.knowledge.any_base
    with pytest.raises(ConfigError) as caught:
        plan(paths, env, knowledge=("it", "nope"))
    assert str(caught.value) == "no knowledge base 'nope' (bases: it)"
    # The environment stands in for the flags, and a flag still wins.
    by_env = plan(paths, {**env, "CHATBOT_KNOWLEDGE": "it", "CHATBOT_KNOWLEDGE_SHARE": "30%"})
    assert (by_env.knowledge.chosen, by_env.knowledge.share) == (("it",), 0.3)
    assert plan(paths, {**env, "CHATBOT_KNOWLEDGE": "off"}).knowledge.chosen == ()
    assert plan(paths, {**env, "CHATBOT_KNOWLEDGE": "nope"}, knowledge=()).knowledge.chosen == ()
    with pytest.raises(ConfigError, match="CHATBOT_KNOWLEDGE_SHARE must be a share"):
        plan(paths, {**env, "CHATBOT_KNOWLEDGE_SHARE": "all of it"})


def test_a_persona_naming_a_missing_base_is_a_warning_not_an_error(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.user_personas.write_text(
        '[personas.helpdesk]\nsystem = "Help."\nknowledge = ["handbook"]\n'
    )
    planned = plan(paths, {"OPENAI_API_KEY": "sk-test"}, persona="helpdesk")
    assert planned.knowledge.chosen is None  # the persona decides, turn by turn
    assert any("knowledge base 'handbook', which does not exist yet" in w for w in planned.warnings)
