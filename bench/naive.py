"""The clients chatbot is measured against: the bare SDK loop and the naive renderer.

``sdk`` is the floor: import openai, make the same streaming request, read every
chunk's content and render nothing (``--print`` writes the text once at the end, as a
one-shot answer must). ``live`` is what most Python chat tools do: a rich ``Live``
that re-renders the whole ``Markdown`` reply on every chunk, which is quadratic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main", "run_live", "run_sdk"]


def _stream_kwargs(args: argparse.Namespace) -> dict[str, object]:
    return {
        "model": args.model,
        "messages": [{"role": "user", "content": args.question}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def run_sdk(args: argparse.Namespace) -> int:
    """Stream the reply and keep its text; show it only if ``--print``."""
    import openai

    client = openai.OpenAI(api_key=args.api_key, base_url=args.base_url, max_retries=0)
    parts: list[str] = []
    with client.chat.completions.create(**_stream_kwargs(args)) as stream:  # type: ignore[call-overload]
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
    if args.print:
        sys.stdout.write("".join(parts) + "\n")
        sys.stdout.flush()
    return 0


def run_live(args: argparse.Namespace) -> int:
    """Re-render the whole Markdown reply on every chunk, as shell-gpt does."""
    import openai
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    client = openai.OpenAI(api_key=args.api_key, base_url=args.base_url, max_retries=0)
    console = Console()
    text = ""
    with (
        client.chat.completions.create(**_stream_kwargs(args)) as stream,  # type: ignore[call-overload]
        Live(console=console) as live,
    ):
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    text += choice.delta.content
                    live.update(Markdown(text, code_theme="monokai"), refresh=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Baseline clients for python -m bench.")
    parser.add_argument("mode", choices=("sdk", "live"))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--question", required=True)
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--api-key", default="sk-bench")
    parser.add_argument("--print", action="store_true", help="sdk: write the reply at the end")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_sdk(args) if args.mode == "sdk" else run_live(args)


if __name__ == "__main__":
    raise SystemExit(main())
