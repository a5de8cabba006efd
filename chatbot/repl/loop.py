"""The interactive loop: read a line, run a command or a turn, show the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chatbot.conversation.attachments import Attachment
from chatbot.conversation.outcome import describe_outcome
from chatbot.conversation.references import knowledge_lines
from chatbot.conversation.session import ChatSession, TurnResult
from chatbot.errors import ApiError, ChatbotError, ImagesRejected, MessageTooLarge
from chatbot.i18n import _, gettext, ngettext
from chatbot.render import ReplyRenderer
from chatbot.repl.commands.registry import CommandContext, CommandRegistry, Exit
from chatbot.repl.notices import Notices
from chatbot.settings.personas import PersonaBook

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from rich.console import Console

__all__ = ["Repl"]

EXIT_WORDS = frozenset({"exit", "quit", ":q"})


class Repl:
    """Reads input with a PromptSession and drives a ChatSession."""

    def __init__(
        self,
        *,
        session: ChatSession,
        prompt: PromptSession[str],
        console: Console,
        personas: PersonaBook,
        commands: CommandRegistry,
        renderer_factory: Callable[[], ReplyRenderer],
        notices: Notices | None = None,
        attachments: list[Attachment] | None = None,
    ) -> None:
        self.session = session
        self.prompt = prompt
        self.console = console
        self.notices = notices or Notices(console=console)
        self.commands = commands
        self._new_renderer = renderer_factory
        self.context = CommandContext(
            session=session,
            personas=personas,
            notices=self.notices,
            console=console,
            run_turn=self.run_turn,
        )
        if attachments is not None:
            # Shared with whoever shows them (the toolbar).
            self.context.attachments = attachments

    def run(self) -> int:
        """Loop until the user leaves; returns the exit status."""
        persona = self.session.persona
        if persona.greeting and not self.session.conversation.messages:
            self.notices.hint(gettext(persona.greeting))
        while True:
            # /edit leaves the edited text as the next input, to send or edit further.
            start, self.context.next_input = self.context.next_input, None
            try:
                text = (
                    self.prompt.prompt("› ", default=start) if start else self.prompt.prompt("› ")
                )
            except KeyboardInterrupt:
                continue  # Ctrl-C while typing clears the line
            except EOFError:
                return 0
            line = text.strip()
            if not line:
                continue
            if line.lower() in EXIT_WORDS:
                return 0
            if line.startswith("/") and not line.startswith("//"):
                try:
                    self.commands.dispatch(self.context, line)
                except Exit:
                    return 0
                except ChatbotError as exc:
                    self.notices.error(str(exc))
                except KeyboardInterrupt:
                    # A slow command (/model asking the server, /compact): stop it, stay.
                    self.notices.hint(_("cancelled"))
                continue
            if line.startswith("//"):
                text = text.lstrip()[1:]  # "//path" sends "/path" literally
            self.run_turn(self._asker(text))

    def _asker(self, text: str) -> Callable[[ReplyRenderer], TurnResult]:
        attached = self.context.attachments
        files = tuple(attached)

        def ask(renderer: ReplyRenderer) -> TurnResult:
            try:
                return self.session.send(text, renderer=renderer, attachments=files)
            finally:
                # Sent (and kept with the question for /retry) once the question is in
                # the conversation; still attached if it was refused (too large).
                if files and self._went_with_question(files):
                    attached.clear()

        return ask

    def _went_with_question(self, files: tuple[Attachment, ...]) -> bool:
        conversation = self.session.conversation
        index = conversation.last_user_index()
        if index is None:
            return False
        sent = conversation.messages[index].attachments
        return len(sent) == len(files) and all(a is b for a, b in zip(sent, files, strict=True))

    def run_turn(self, turn: Callable[[ReplyRenderer], TurnResult]) -> None:
        """Run one exchange with a fresh renderer, and report how it ended."""
        renderer = self._new_renderer()
        try:
            result = turn(renderer)
        except KeyboardInterrupt:
            # Ctrl-C outside the stream itself (while summarising old turns).
            self.notices.hint(_("cancelled"))
            return
        except ImagesRejected as exc:
            self.notices.error(str(exc))
            self.notices.hint(
                _(
                    "your message is kept: /model a vision model, then /retry; "
                    "or /undo and ask without the image"
                )
            )
            return
        except ApiError as exc:
            self.notices.error(str(exc))
            if self.session.conversation.messages:
                self.notices.hint(_("your message is kept: /retry to send it again"))
            return
        except MessageTooLarge as exc:
            self.notices.error(str(exc))
            if self.context.attachments:
                self.notices.hint(
                    _(
                        "the files are still attached: /file lists them, /file clear drops "
                        "them; press Up to recall your text"
                    )
                )
            else:
                self.notices.hint(_("press Up to recall it, then shorten it or split it"))
            return
        except ChatbotError as exc:
            self.notices.error(str(exc))
            return
        self.show_outcome(result)

    def show_outcome(self, result: TurnResult) -> None:
        if result.compacted_turns:
            self.notices.hint(
                ngettext(
                    "summarised {count} older turn to fit the context "
                    "(the original stays in the store)",
                    "summarised {count} older turns to fit the context "
                    "(the originals stay in the store)",
                    result.compacted_turns,
                ).format(count=result.compacted_turns)
            )
        if result.compaction_note:
            self.notices.warning(result.compaction_note)
        if result.first_drop:
            self.notices.warning(
                ngettext(
                    "{count} oldest turn no longer fits the context and was left out of the "
                    "request; the toolbar shows how many are out.",
                    "{count} oldest turns no longer fit the context and were left out of the "
                    "request; the toolbar shows how many are out.",
                    result.dropped_turns,
                ).format(count=result.dropped_turns)
            )
        for line in knowledge_lines(result.references, result.reply.sources):
            self.notices.hint(line)
        outcome = describe_outcome(result.reply, tool_rounds=result.tool_rounds)
        if outcome is not None:
            self.notices.show(outcome.level, outcome.in_repl())
