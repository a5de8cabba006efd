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

from chatbot.cells import cell_width, pad
from chatbot.cli.knowledge_parser import KnowledgeOptions
from chatbot.conversation.attachments import format_size
from chatbot.conversation.references import source_lines
from chatbot.i18n import _, gettext, ngettext
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
                raise KnowledgeError(
                    _("{path}: no such file or folder; nothing was added").format(path=path)
                )
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
                self.say(_("no knowledge bases yet: chatbot knowledge add NAME PATH"))
                return 0
            for name in names:
                with BaseFile.open(self.data_dir, name) as opened:
                    self._update(opened)
            return 0
        with self._progress(_("indexing {name}").format(name=base.name)) as progress:
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
            self.say(
                _("{name}: dropped {count:,} vectors; keyword search only").format(
                    name=base.name, count=dropped
                )
            )
            return
        if wanted is None and recorded is None:
            return
        embedder = (
            embedder_for_flag(wanted, server=self.server)
            if wanted is not None
            else embedder_for_model(recorded or "", server=self.server)
        )
        if embedder is None:
            self.say(
                _("{name}: new passages not embedded: {model} is not available here").format(
                    name=base.name, model=recorded
                )
            )
            return
        started = time.monotonic()
        what = _("embedding {name} ({model})").format(name=base.name, model=embedder.model)
        with self._progress(what) as progress:
            try:
                done, total = embed_base(
                    base, embedder, progress=lambda d, t: progress(d, t, "") if progress else None
                )
            except KeyboardInterrupt:
                self.say(
                    _("{name}: embedding interrupted; run update again to go on").format(
                        name=base.name
                    )
                )
                raise
        if done:
            self.say(
                _(
                    "{name}: embedded {done:,} passages with {model} in {seconds:.1f} s "
                    "({total:,} in all)"
                ).format(
                    name=base.name,
                    done=done,
                    model=embedder.model,
                    seconds=time.monotonic() - started,
                    total=total,
                )
            )

    def _list(self) -> int:
        if self.options.name:
            return self._list_one(check_name(self.options.name))
        names = base_names(self.data_dir)
        if not names:
            self.say(_("no knowledge bases yet: chatbot knowledge add NAME PATH"))
            return 0
        header = (_("NAME"), _("FILES"), _("PASSAGES"), _("TEXT"), _("UPDATED"), _("SKIPPED"))
        rows = [(*header, _("VECTORS"))]
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
        # By cells, not characters: the headings may be Japanese.
        widths = [max(cell_width(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [
                pad(c, w, right=i in (1, 2, 3, 5))
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            self.say("  ".join(cells).rstrip())
        return 0

    def _list_one(self, name: str) -> int:
        with BaseFile.open(self.data_dir, name) as base:
            s = base.summary()
            self.say(
                _("{name}: {files}, {chunks}, {size} of text, updated {when}").format(
                    name=name,
                    files=_files(s.files),
                    chunks=_passages(s.chunks),
                    size=format_size(s.text_bytes),
                    when=_when(s.updated_at),
                )
            )
            for root in s.roots:
                self.say(_("  from {root}").format(root=root))
            if s.embed_model:
                self.say(
                    _("  vectors: {model}, {done:,} of {chunks:,} passages").format(
                        model=s.embed_model, done=s.embedded, chunks=s.chunks
                    )
                )
            for label, kind, chunks, size in base.conn.execute(
                "SELECT label, kind, chunks, text_bytes FROM files ORDER BY label"
            ):
                self.say(
                    _("  {label}  {kind}, {passages}, {size}").format(
                        label=label, kind=kind, passages=_passages(chunks), size=format_size(size)
                    )
                )
            for label, reason in base.conn.execute(
                "SELECT label, reason FROM skipped ORDER BY label"
            ):
                self.say(
                    _("  {label}  skipped: {reason}").format(label=label, reason=gettext(reason))
                )
        return 0

    def _remove(self) -> int:
        name = check_name(self.options.name or "")
        path = base_path(self.data_dir, name)
        if not path.exists():
            raise KnowledgeError(_("no knowledge base {name!r}").format(name=name))
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        self.say(_("removed knowledge base {name} (your files were not touched)").format(name=name))
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
            self.say(
                _("nothing found in {name} for that ({ms:.0f} ms)").format(name=name, ms=elapsed)
            )
            return 0
        for line, source in zip(source_lines(sources), sources, strict=True):
            self.say(line)
            for text in _preview(source.text):
                self.say("    " + text)
        print(
            _("{passages} in {ms:.0f} ms").format(passages=_passages(len(sources)), ms=elapsed),
            file=self.err,
        )
        return 0

    # -- output ----------------------------------------------------------------------

    def _report(self, base: BaseFile, report: UpdateReport) -> None:
        summary = base.summary()
        parts = [_("{count:,} read").format(count=report.read)]
        if report.unchanged:
            parts.append(_("{count:,} unchanged").format(count=report.unchanged))
        if report.touched:
            parts.append(_("{count:,} touched").format(count=report.touched))
        if report.removed:
            parts.append(_("{count:,} removed").format(count=report.removed))
        self.say(
            _("{name}: {files} ({parts}), {chunks}, {size} of text, in {seconds:.1f} s").format(
                name=base.name,
                files=_files(summary.files),
                parts=_(", ").join(parts),
                chunks=_passages(summary.chunks),
                size=format_size(summary.text_bytes),
                seconds=report.seconds,
            )
        )
        if report.skipped:
            counts = _(", ").join(
                f"{n:,} {gettext(reason)}" for reason, n in report.skipped.most_common()
            )
            self.say(
                _("  skipped {count:,}: {counts}").format(
                    count=sum(report.skipped.values()), counts=counts
                )
            )
            for label, reason in report.newly_skipped[:_SKIPS_SHOWN]:
                self.say(f"    {label}: {gettext(reason)}")
            more = len(report.newly_skipped) - _SKIPS_SHOWN
            if more > 0:
                self.say(
                    _("    … and {count:,} more (chatbot knowledge list {name})").format(
                        count=more, name=base.name
                    )
                )
        for root in report.missing_roots:
            self.say(_("  {root} is gone: its files were dropped").format(root=root))
        if report.interrupted:
            self.say(
                _(
                    "  interrupted: what was read is kept; chatbot knowledge update {name} "
                    "goes on from there"
                ).format(name=base.name)
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
        return _("never")
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _files(count: int) -> str:
    """``1 file``, ``2,310 files``."""
    return ngettext("{count:,} file", "{count:,} files", count).format(count=count)


def _passages(count: int) -> str:
    """``1 passage``, ``67 passages``."""
    return ngettext("{count:,} passage", "{count:,} passages", count).format(count=count)
