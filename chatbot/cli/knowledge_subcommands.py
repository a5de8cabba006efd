"""``chatbot knowledge ...`` from the shell: add, list, update, remove and search bases.

Progress goes to stderr as a bar, and only when stderr is a terminal; results go
to stdout. Every file name and passage is sanitised before it is printed: a
document's text can hold terminal escape sequences.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO

from chatbot.cli.knowledge_parser import KnowledgeOptions
from chatbot.conversation.attachments import format_size
from chatbot.conversation.references import source_lines
from chatbot.knowledge.base_file import BaseFile, KnowledgeError, base_names, base_path, check_name
from chatbot.knowledge.embedder_choice import ServerAccess, embedder_for_flag, embedder_for_model
from chatbot.knowledge.embedders import drop_vectors, embed_base
from chatbot.knowledge.indexing import UpdateReport, update_base
from chatbot.knowledge.retriever import KnowledgeRetriever
from chatbot.render.sanitize import sanitize
from chatbot.settings.personas import Persona

__all__ = ["run_knowledge_command"]

#: Skipped files named one by one after an update; more are counted.
_SKIPS_SHOWN = 10


def run_knowledge_command(
    options: KnowledgeOptions,
    *,
    data_dir: Path,
    environ: Mapping[str, str],
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Run one ``chatbot knowledge`` command; returns the exit status (errors are raised)."""
    runner = _Runner(options, data_dir=data_dir, environ=environ, stdout=stdout, stderr=stderr)
    command: Callable[[], int] = getattr(runner, f"_{options.command}")
    return command()


class _Runner:
    def __init__(
        self,
        options: KnowledgeOptions,
        *,
        data_dir: Path,
        environ: Mapping[str, str],
        stdout: TextIO,
        stderr: TextIO,
    ) -> None:
        self.options = options
        self.data_dir = data_dir
        self.out = stdout
        self.err = stderr
        base_url = options.base_url or environ.get("OPENAI_BASE_URL")
        key = environ.get("OPENAI_API_KEY", "")
        if not base_url and key:
            base_url = "https://api.openai.com/v1"
        self.server = ServerAccess(base_url=base_url, api_key=key)

    def say(self, text: str) -> None:
        print(sanitize(text), file=self.out, flush=True)

    # -- commands --------------------------------------------------------------------

    def _add(self) -> int:
        name = check_name(self.options.name or "")
        paths = []
        for path in self.options.paths:
            if not path.exists():
                raise KnowledgeError(f"{path}: no such file or folder; nothing was added")
            paths.append(path.resolve())
        with BaseFile.open(self.data_dir, name, create=True) as base:
            base.add_roots(paths)
            self._update(base)
        return 0

    def _update(self, base: BaseFile | None = None) -> int:
        if base is None:
            names = (
                [check_name(self.options.name)] if self.options.name else base_names(self.data_dir)
            )
            if not names:
                self.say("no knowledge bases yet: chatbot knowledge add NAME PATH")
                return 0
            for name in names:
                with BaseFile.open(self.data_dir, name) as opened:
                    self._update(opened)
            return 0
        with self._progress(f"indexing {base.name}") as progress:
            report = update_base(base, progress=progress)
        self._report(base, report)
        if report.interrupted:
            return 130
        self._embed(base)
        return 0

    def _embed(self, base: BaseFile) -> None:
        wanted = self.options.embed
        recorded = base.meta("embed_model")
        if wanted is not None and wanted.lower() == "none":
            dropped = drop_vectors(base)
            self.say(f"{base.name}: dropped {dropped:,} vectors; keyword search only")
            return
        if wanted is None and recorded is None:
            return
        embedder = (
            embedder_for_flag(wanted, server=self.server)
            if wanted is not None
            else embedder_for_model(recorded or "", server=self.server)
        )
        if embedder is None:
            self.say(f"{base.name}: new passages not embedded: {recorded} is not available here")
            return
        started = time.monotonic()
        with self._progress(f"embedding {base.name} ({embedder.model})") as progress:
            try:
                done, total = embed_base(
                    base, embedder, progress=lambda d, t: progress(d, t, "") if progress else None
                )
            except KeyboardInterrupt:
                self.say(f"{base.name}: embedding interrupted; run update again to go on")
                raise
        if done:
            self.say(
                f"{base.name}: embedded {done:,} passages with {embedder.model} "
                f"in {time.monotonic() - started:.1f} s ({total:,} in all)"
            )

    def _list(self) -> int:
        if self.options.name:
            return self._list_one(check_name(self.options.name))
        names = base_names(self.data_dir)
        if not names:
            self.say("no knowledge bases yet: chatbot knowledge add NAME PATH")
            return 0
        rows = [("NAME", "FILES", "PASSAGES", "TEXT", "UPDATED", "SKIPPED", "VECTORS")]
        for name in names:
            with BaseFile.open(self.data_dir, name) as base:
                s = base.summary()
            vectors = f"{s.embed_model} ({s.embedded:,}/{s.chunks:,})" if s.embed_model else "-"
            rows.append(
                (
                    s.name,
                    f"{s.files:,}",
                    f"{s.chunks:,}",
                    format_size(s.text_bytes),
                    _when(s.updated_at),
                    f"{s.skipped:,}",
                    vectors,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [
                c.rjust(w) if i in (1, 2, 3, 5) else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            self.say("  ".join(cells).rstrip())
        return 0

    def _list_one(self, name: str) -> int:
        with BaseFile.open(self.data_dir, name) as base:
            s = base.summary()
            self.say(
                f"{name}: {s.files:,} files, {s.chunks:,} passages, {format_size(s.text_bytes)} "
                f"of text, updated {_when(s.updated_at)}"
            )
            for root in s.roots:
                self.say(f"  from {root}")
            if s.embed_model:
                self.say(f"  vectors: {s.embed_model}, {s.embedded:,} of {s.chunks:,} passages")
            for label, kind, chunks, size in base.conn.execute(
                "SELECT label, kind, chunks, text_bytes FROM files ORDER BY label"
            ):
                noun = "passage" if chunks == 1 else "passages"
                self.say(f"  {label}  {kind}, {chunks:,} {noun}, {format_size(size)}")
            for label, reason in base.conn.execute(
                "SELECT label, reason FROM skipped ORDER BY label"
            ):
                self.say(f"  {label}  skipped: {reason}")
        return 0

    def _remove(self) -> int:
        name = check_name(self.options.name or "")
        path = base_path(self.data_dir, name)
        if not path.exists():
            raise KnowledgeError(f"no knowledge base {name!r}")
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        self.say(f"removed knowledge base {name} (your files were not touched)")
        return 0

    def _search(self) -> int:
        name = check_name(self.options.name or "")
        retriever = KnowledgeRetriever(
            data_dir=self.data_dir,
            chosen=(name,),
            embedder_for=lambda model: embedder_for_model(model, server=self.server),
        )
        retriever.check((name,))
        started = time.monotonic()
        try:
            found = retriever.retrieve(
                self.options.query, persona=_SEARCH_PERSONA, max_tokens=10**9
            )
        finally:
            retriever.close()
        elapsed = (time.monotonic() - started) * 1000
        assert found is not None
        for note in found.notes:
            print(f"chatbot: {sanitize(note)}", file=self.err)
        sources = found.sources[: self.options.limit]
        if not sources:
            self.say(f"nothing found in {name} for that ({elapsed:.0f} ms)")
            return 0
        for line, source in zip(source_lines(sources), sources, strict=True):
            self.say(line)
            for text in _preview(source.text):
                self.say("    " + text)
        print(f"{len(sources)} passages in {elapsed:.0f} ms", file=self.err)
        return 0

    # -- output ----------------------------------------------------------------------

    def _report(self, base: BaseFile, report: UpdateReport) -> None:
        summary = base.summary()
        parts = [f"{report.read:,} read"]
        if report.unchanged:
            parts.append(f"{report.unchanged:,} unchanged")
        if report.touched:
            parts.append(f"{report.touched:,} touched")
        if report.removed:
            parts.append(f"{report.removed:,} removed")
        self.say(
            f"{base.name}: {summary.files:,} files ({', '.join(parts)}), {summary.chunks:,} "
            f"passages, {format_size(summary.text_bytes)} of text, in {report.seconds:.1f} s"
        )
        if report.skipped:
            counts = ", ".join(f"{n:,} {reason}" for reason, n in report.skipped.most_common())
            self.say(f"  skipped {sum(report.skipped.values()):,}: {counts}")
            for label, reason in report.newly_skipped[:_SKIPS_SHOWN]:
                self.say(f"    {label}: {reason}")
            more = len(report.newly_skipped) - _SKIPS_SHOWN
            if more > 0:
                self.say(f"    … and {more:,} more (chatbot knowledge list {base.name})")
        for root in report.missing_roots:
            self.say(f"  {root} is gone: its files were dropped")
        if report.interrupted:
            self.say(
                f"  interrupted: what was read is kept; chatbot knowledge update {base.name} "
                "goes on from there"
            )

    @contextmanager
    def _progress(self, what: str) -> Iterator[Callable[[int, int, str], None] | None]:
        if not self.err.isatty():
            yield None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self.err)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(what, total=None)

            def advance(done: int, total: int, _label: str) -> None:
                bar.update(task, completed=done, total=total)

            yield advance


def _preview(text: str, *, lines: int = 3) -> list[str]:
    """The first lines of a passage that say something (not its heading's underline)."""
    shown = [
        line.strip()[:100]
        for line in text.splitlines()
        if line.strip() and len(set(line.strip())) > 1 and not line.lstrip().startswith("#")
    ]
    return shown[:lines]


_SEARCH_PERSONA = Persona(name="search", description="", system="")


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
