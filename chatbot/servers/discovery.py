"""Find a local server already running: Ollama, LM Studio or llama.cpp's server.

With no key and no base URL, the chatbot looks on loopback before it starts its
own small model. Every port is asked ``GET /v1/models`` at once, each on its own
thread, and the whole look takes at most ~150 ms (a port nobody listens on
answers "refused" in well under a millisecond). ``CHATBOT_DISCOVER_PORTS``
overrides the ports (``ollama=11434,lmstudio=1234,llamacpp=8080``; empty: look
nowhere).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chatbot.servers.tinyhttp import request_json

__all__ = [
    "DEFAULT_PORTS",
    "DISCOVERY_BUDGET",
    "Discovered",
    "Probe",
    "discover_local_server",
    "probes_from_env",
]

#: Seconds the whole search may take.
DISCOVERY_BUDGET = 0.15

_NAMES = {"ollama": "Ollama", "lmstudio": "LM Studio", "llamacpp": "llama.cpp server"}


@dataclass(frozen=True, slots=True)
class Probe:
    """One place to look: ``kind`` is ``ollama``, ``lmstudio``, ``llamacpp`` or ``server``."""

    kind: str
    port: int
    host: str = "127.0.0.1"

    @property
    def label(self) -> str:
        return _NAMES.get(self.kind, "a local server")


#: In order of preference when more than one answers.
DEFAULT_PORTS: tuple[Probe, ...] = (
    Probe("ollama", 11434),
    Probe("lmstudio", 1234),
    Probe("llamacpp", 8080),
)


@dataclass(frozen=True, slots=True)
class Discovered:
    """A server that answered, with the models it offers."""

    probe: Probe
    models: tuple[str, ...]

    @property
    def base_url(self) -> str:
        return f"http://{self.probe.host}:{self.probe.port}/v1"

    @property
    def is_ollama(self) -> bool:
        return self.probe.kind == "ollama"


def probes_from_env(env: Mapping[str, str]) -> tuple[Probe, ...]:
    """``CHATBOT_DISCOVER_PORTS`` as probes; unset means the default three ports.

    Each item is ``KIND=PORT`` or a bare ``PORT``; unknown items are skipped.
    """
    raw = env.get("CHATBOT_DISCOVER_PORTS")
    if raw is None:
        return DEFAULT_PORTS
    probes: list[Probe] = []
    for item in raw.split(","):
        kind, _, port = item.strip().rpartition("=")
        if port.strip().isdigit() and 0 < int(port) < 65536:
            probes.append(Probe(kind.strip().lower() or "server", int(port)))
    return tuple(probes)


def _ask(probe: Probe, timeout: float) -> tuple[str, ...] | None:
    """The model ids ``probe``'s server lists, or None when nothing sensible answers."""
    listing = request_json("GET", probe.host, probe.port, "/v1/models", timeout=timeout)
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list):
        return None
    return tuple(
        str(item["id"])
        for item in data
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    )


def discover_local_server(
    probes: Sequence[Probe] = DEFAULT_PORTS, *, budget: float = DISCOVERY_BUDGET
) -> Discovered | None:
    """The first of ``probes`` (in their order) whose server answers within ``budget``."""
    if not probes:
        return None
    deadline = time.monotonic() + budget
    answers: dict[int, tuple[str, ...] | None] = {}
    done = threading.Event()
    lock = threading.Lock()

    def ask(index: int, probe: Probe) -> None:
        models = _ask(probe, budget)
        with lock:
            answers[index] = models
            if len(answers) == len(probes):
                done.set()

    for index, probe in enumerate(probes):
        threading.Thread(target=ask, args=(index, probe), daemon=True).start()
    done.wait(max(0.0, deadline - time.monotonic()))
    with lock:
        for index, probe in enumerate(probes):
            models = answers.get(index)
            if models is not None:
                return Discovered(probe=probe, models=models)
    return None
