"""What we know about models: context windows and prices.

Lookups match the longest known prefix, so dated snapshots such as
``gpt-4o-2024-08-06`` inherit their family's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from chatbot.i18n import _

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "Cost",
    "Price",
    "context_window_for",
    "cost_of",
    "describe_usage",
    "format_dollars",
    "model_key",
    "price_for",
]

#: A conservative window for models we know nothing about: small local models
#: commonly run with 4k-8k contexts, and guessing too high means a server error.
DEFAULT_CONTEXT_WINDOW = 8192

_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "chatgpt-4o": 128_000,
    "claude": 200_000,
    "deepseek-chat": 64_000,
    "deepseek-reasoner": 64_000,
    "llama3.1": 131_072,
    "llama3.2": 131_072,
    "llama3": 8_192,
    "mistral": 32_768,
    "qwen2.5": 32_768,
    "gemma2": 8_192,
    "smollm2": 2_048,
}


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float

    def cost(self, *, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


_PRICES: dict[str, Price] = {
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5": Price(1.25, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o4-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o1": Price(15.00, 60.00),
}


_T = TypeVar("_T")


def model_key(model: str) -> str:
    """The part of a model name the tables match: "openai/GPT-4o" -> "gpt-4o"."""
    return model.strip().lower().rsplit("/", 1)[-1]


def _longest_prefix(table: Mapping[str, _T], model: str) -> _T | None:
    name = model_key(model)
    best: str | None = None
    for prefix in table:
        if name.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return None if best is None else table[best]


def context_window_for(model: str, *, overrides: Mapping[str, int] | None = None) -> int:
    """The model's context window in tokens, or a safe default."""
    if overrides:
        found = _longest_prefix(overrides, model)
        if found is not None:
            return found
    return _longest_prefix(_CONTEXT_WINDOWS, model) or DEFAULT_CONTEXT_WINDOW


def price_for(model: str, *, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """Known price of ``model`` (user table first), or None for free/unknown."""
    if overrides:
        found = _longest_prefix(overrides, model)
        if found is not None:
            return found
    return _longest_prefix(_PRICES, model)


@dataclass(frozen=True, slots=True)
class Cost:
    """What some usage cost, as far as the price table knows."""

    dollars: float
    #: Models that used tokens but have no known price, so ``dollars`` leaves them out.
    unpriced: tuple[str, ...]


def cost_of(
    tokens_by_model: Mapping[str, Sequence[int]], *, prices: Mapping[str, Price] | None = None
) -> Cost:
    """The cost of (prompt, completion) tokens per model, user ``prices`` first."""
    dollars = 0.0
    unpriced: list[str] = []
    for model, (prompt, completion) in tokens_by_model.items():
        price = price_for(model, overrides=prices)
        if price is None:
            if prompt or completion:
                unpriced.append(model)
            continue
        dollars += price.cost(prompt_tokens=prompt, completion_tokens=completion)
    return Cost(dollars=dollars, unpriced=tuple(unpriced))


def format_dollars(amount: float) -> str:
    """US dollars at a precision that shows what a few requests cost."""
    if amount == 0:
        return "$0"
    if amount < 0.0001:
        return "<$0.0001"
    if amount < 1:
        return f"${amount:.4f}"
    return f"${amount:,.2f}"


def describe_usage(
    model: str,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    estimated: bool,
    prices: Mapping[str, Price] | None = None,
    thinking_tokens: int = 0,
    thinking_estimated: bool = False,
) -> str:
    """One request's usage in words: "123 prompt + 45 completion tokens ($0.0001)".

    With thinking: "123 prompt + 45 completion tokens, ~30 of them thinking ($0.0001)".
    """
    mark = "~" if estimated else ""
    tokens = _("{mark}{prompt:,} prompt + {mark}{completion:,} completion tokens").format(
        mark=mark, prompt=prompt_tokens, completion=completion_tokens
    )
    if thinking_tokens:
        thought = "~" if estimated or thinking_estimated else ""
        tokens += _(", {mark}{count:,} of them thinking").format(
            mark=thought, count=thinking_tokens
        )
    price = price_for(model, overrides=prices)
    if price is None:
        return _("{tokens} (no price known for {model})").format(tokens=tokens, model=model)
    cost = price.cost(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    return _("{tokens} ({cost})").format(tokens=tokens, cost=mark + format_dollars(cost))
