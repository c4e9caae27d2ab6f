"""The terminal under `anivault ui`: one Rich console for output and one line reader for answers.

Both are injectable so tests can script a whole session: the reader is any callable returning the next line
(raise KeyboardInterrupt to simulate Ctrl-C, EOFError when the script runs out). On a real terminal answers
come from `input()` (line editing works); on piped stdin from `readline()`, where end of input is EOFError,
never an endless loop of empty answers.

Conventions every screen follows: in a menu `0` or `b` goes back; in a question `b` goes back (raised as
:class:`Back`); Ctrl-C is left to propagate to the home screen, which catches it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from anivault.errors import AniVaultError

LineReader = Callable[[], str]
Check = Callable[[str], str | None]  # returns why the answer is wrong, or None when it is fine

BACK_WORDS = frozenset({"b", "back"})


class Back(Exception):
    """The user asked to go back one screen."""


@dataclass(frozen=True, slots=True)
class MenuItem:
    key: str
    label: str
    note: str = ""


def _stdin_reader() -> str:
    if sys.stdin.isatty():
        return input()  # readline editing on a terminal; EOFError on Ctrl-D
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


def _hidden_reader() -> str:
    if not sys.stdin.isatty():
        return _stdin_reader()
    import getpass

    return getpass.getpass("")


class Terminal:
    """Output through ``console``, answers from ``read_line``."""

    def __init__(self, console: Console | None = None, read_line: LineReader | None = None) -> None:
        if console is None:
            from rich.console import Console

            console = Console(highlight=False)
        self.console = console
        self._read = read_line or _stdin_reader
        # Piped answers are not echoed by a terminal: write them after the prompt so the output reads as a
        # transcript of the session.
        self.echo = read_line is None and not sys.stdin.isatty()
        # Hidden input for PINs and keys: getpass on a terminal; a scripted reader is used as is.
        self.secret_reader: LineReader | None = _hidden_reader if read_line is None else None

    # ------------------------------------------------------------------ output

    def print(self, *objects: RenderableType, markup: bool = True) -> None:
        self.console.print(*objects, markup=markup, highlight=False)

    def text(self, line: str) -> None:
        """A line printed as is (file names may hold `[` and `]`)."""
        self.console.print(line, markup=False, highlight=False)

    def title(self, text: str, *, clear: bool = False) -> None:
        """A screen's heading; ``clear`` starts a fresh screen first (only on a real terminal: captures
        and scripted sessions keep everything)."""
        if clear and self.console.is_terminal:
            self.console.clear()
        self.console.rule(f"[bold]{_esc(text)}[/bold]", align="left")

    def error(self, message: str, hint: str | None = None) -> None:
        from anivault.redact import redact

        self.console.print(f"[red]✗[/red] {_esc(redact(message))}", highlight=False)
        if hint:
            self.console.print(f"  [dim]{_esc(redact(hint))}[/dim]", highlight=False)

    def show_error(self, exc: AniVaultError) -> None:
        self.error(exc.message, exc.hint)

    def ok(self, message: str) -> None:
        self.console.print(f"[green]✓[/green] {_esc(message)}", highlight=False)

    # ------------------------------------------------------------------ input

    def _line(self, prompt: str, *, secret: bool = False) -> str:
        self.console.print(prompt, end="", highlight=False)
        self.console.file.flush()
        reader = self.secret_reader if secret and self.secret_reader is not None else self._read
        answer = reader().strip()
        if self.echo:
            self.console.print("" if secret else answer, markup=False, highlight=False)
        return answer

    def ask(
        self,
        question: str,
        *,
        default: str | None = None,
        check: Check | None = None,
        allow_empty: bool = False,
        secret: bool = False,
    ) -> str:
        """One answer, asked again with the reason until ``check`` accepts it. `b` raises :class:`Back`."""
        shown = f" [cyan]\\[{_esc(default)}][/cyan]" if default not in (None, "") and not secret else ""
        while True:
            answer = self._line(f"{question}{shown}: ", secret=secret)
            if answer.lower() in BACK_WORDS:
                raise Back
            if not answer and default is not None:
                answer = default
            if not answer and not allow_empty:
                self.error("an answer is needed", "type b to go back")
                continue
            problem = check(answer) if check is not None and (answer or not allow_empty) else None
            if problem:
                self.error(problem, "try again, or type b to go back")
                continue
            return answer

    def confirm(self, question: str, *, default: bool = False) -> bool:
        """Yes or no; anything else is asked again. `b` counts as no."""
        hint = "Y/n" if default else "y/N"
        while True:
            answer = self._line(f"{question} [cyan]\\[{hint}][/cyan]: ").lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no", *BACK_WORDS):
                return False
            self.error(f"'{answer}' is neither yes nor no", "type y or n")

    def choose(self, question: str, choices: Sequence[str], *, default: str | None = None) -> str:
        """One of a few words (`move`, `copy`…); a unique prefix or its number is enough."""

        def check(answer: str) -> str | None:
            return None if _pick(answer, choices) else f"'{answer}' is not one of {', '.join(choices)}"

        listed = "/".join(choices)
        answer = self.ask(f"{question} ({listed})", default=default, check=check)
        picked = _pick(answer, choices)
        assert picked is not None
        return picked

    def menu(
        self,
        title: str,
        items: Sequence[MenuItem],
        *,
        back: str = "Back",
        prompt: str = "Choose",
        clear: bool = False,
        notice: str | None = None,
    ) -> str:
        """Show numbered items and return the chosen key; `0` or `b` goes back (:class:`Back`).
        ``notice`` is a line shown under the title (what just happened)."""
        self.title(title, clear=clear)
        if notice:
            self.console.print(notice, highlight=False)
        from rich.cells import cell_len

        width = max((cell_len(i.label) for i in items), default=0)
        room = self.console.width - width - max((cell_len(i.key) for i in items), default=1) - 7
        for item in items:
            note = f"  [dim]{_esc(cut(item.note, room))}[/dim]" if item.note and room > 8 else ""
            pad = " " * (width - cell_len(item.label)) if note else ""
            self.console.print(
                f"  [bold]{_esc(item.key)}[/bold]  {_esc(item.label)}{pad}{note}", highlight=False
            )
        self.console.print(f"  [bold]0[/bold]  {_esc(back)}", highlight=False)
        keys = {i.key.lower(): i.key for i in items}
        while True:
            answer = self._line(f"{prompt}: ").lower()
            if not answer:
                continue  # a stray Enter must not leave a screen (or, at home, the program)
            if answer in ("0", *BACK_WORDS):
                raise Back
            if answer in keys:
                return keys[answer]
            self.error(f"'{answer}' is not on the menu", f"type one of {', '.join(keys)} or 0")

    def pause(self) -> None:
        """Wait for Enter so a result stays on screen before the menu comes back."""
        self._line("[dim]Enter to continue[/dim] ")

    # ------------------------------------------------------------------ progress

    @contextmanager
    def progress(self, label: str, total: int | None = None) -> Iterator[Callable[..., None]]:
        """A live bar on a terminal (transient); on anything else no bar, the caller prints the result.

        Yields ``update(completed=…, total=…, description=…)``.
        """
        if not self.console.is_terminal:
            yield _ignore
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            task = bar.add_task(_esc(label), total=total)

            def update(**fields: object) -> None:
                bar.update(task, **fields)  # type: ignore[arg-type]

            yield update


def number_in(count: int) -> Check:
    """A check for "a number from 1 to count"."""

    def check(answer: str) -> str | None:
        ok = answer.isdigit() and 1 <= int(answer) <= count
        return None if ok else f"'{answer}' is not a number from 1 to {count}"

    return check


def one_of(values: Collection[str], what: str) -> Check:
    """A check for "one of these values" (`there is no run 7`)."""

    def check(answer: str) -> str | None:
        return None if answer in values else f"there is no {what} {answer}"

    return check


def _ignore(**_fields: object) -> None:
    return None


def _pick(answer: str, choices: Sequence[str]) -> str | None:
    low = answer.lower()
    if low.isdigit() and 1 <= int(low) <= len(choices):
        return choices[int(low) - 1]
    exact = [c for c in choices if c.lower() == low]
    if exact:
        return exact[0]
    prefixed = [c for c in choices if c.lower().startswith(low)]
    return prefixed[0] if len(prefixed) == 1 else None


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def esc(text: str) -> str:
    """Escape text (a path, a title) for Rich markup."""
    return _esc(text)


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (wide characters count two), ending in "…" when cut."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)).rstrip() + "…"


def short_path(path: str, width: int) -> str:
    """A path cut from the left to fit ``width`` cells (the file name is what matters)."""
    from rich.cells import cell_len

    if cell_len(path) <= width:
        return path
    out = path
    while out and cell_len("…" + out) > width:
        out = out[1:]
    return "…" + out
