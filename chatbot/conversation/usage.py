"""What a session has used: tokens per request and model, and how full the context is."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ContextFill", "SessionUsage"]


@dataclass(kw_only=True)
class SessionUsage:
    """Token counts for the toolbar and /usage."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Prompt tokens of the last request, and whether the server reported them.
    last_prompt_tokens: int = 0
    last_prompt_exact: bool = False
    requests: int = 0
    #: Requests whose tokens are our estimate because the server reported none.
    estimated_requests: int = 0
    #: (model, prompt, completion) per request, for cost by model.
    by_model: dict[str, list[int]] = field(default_factory=dict)
    #: Thinking tokens among the completion tokens, and whether any is our estimate.
    thinking_tokens: int = 0
    thinking_estimated: bool = False

    def add(self, *, model: str, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        totals = self.by_model.setdefault(model, [0, 0])
        totals[0] += prompt
        totals[1] += completion

    def add_thinking(self, tokens: int, *, exact: bool) -> None:
        """Count one reply's thinking tokens (already part of its completion tokens)."""
        self.thinking_tokens += tokens
        self.thinking_estimated = self.thinking_estimated or not exact


@dataclass(frozen=True, kw_only=True, slots=True)
class ContextFill:
    """How much of the context window a request takes: the toolbar and /usage show it."""

    tokens: int
    window: int
    #: True when the server reported the count; otherwise it is our estimate.
    exact: bool
    #: True for the last request sent; False for an estimate of the next one.
    measured: bool

    @property
    def mark(self) -> str:
        """``~`` before an estimated figure."""
        return "" if self.exact else "~"

    @property
    def fraction(self) -> float:
        return self.tokens / self.window if self.window else 0.0
