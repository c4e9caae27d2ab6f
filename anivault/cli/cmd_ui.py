"""`anivault ui`: a guided, keyboard-only terminal wizard over the same library functions the commands use.

The home screen lists the screens; each lives in its own `ui_*.py` module. A screen returns (or raises
:class:`~anivault.cli.tui.term.Back`) to come home. Ctrl-C anywhere inside a screen comes home too: whatever a
pipeline stage finished is already committed, exactly as with the plain commands. Ctrl-C at the home screen
(so a second Ctrl-C) leaves with exit code 130; `0`, Ctrl-D or the end of piped input leave with 0.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from anivault.cli.tui.term import Back, MenuItem, Terminal, esc
from anivault.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def ui() -> None:
    """Open the guided terminal wizard: run, review, history and rollback, profiles, settings, tools.

    Keyboard only: type a menu number and Enter; 0 or b goes back; Ctrl-C returns to the home screen and
    Ctrl-C there exits. Nothing is organized without a dry-run plan and an explicit yes. Running `anivault`
    with no arguments on a terminal opens it too. Answers are read from stdin, so it can be scripted.

    Examples:

    \b
        anivault ui
        printf '6\\n1\\n\\n0\\n0\\n' | anivault ui    # Tools, cache statistics, Enter, back, exit
    """
    code = run_ui(Terminal())
    if code:
        raise typer.Exit(code)


def _screens() -> dict[str, tuple[str, str, Callable[[Terminal], None]]]:
    from anivault.cli.tui.history import screen as history
    from anivault.cli.tui.profiles import screen as profiles
    from anivault.cli.tui.review import screen as review
    from anivault.cli.tui.settings import screen as settings
    from anivault.cli.tui.tools import screen as tools
    from anivault.cli.tui.wizard import screen as wizard

    return {
        "1": ("Run wizard", "index → match → plan → apply", wizard),
        "2": ("Review matches", "pick the show for doubtful titles", review),
        "3": ("History & rollback", "past runs; undo one", history),
        "4": ("Profiles", "saved sources and destination", profiles),
        "5": ("Settings", "anivault.toml and the TMDB key", settings),
        "6": ("Tools", "cache, verify, database", tools),
    }


def run_ui(term: Terminal) -> int:
    """The home screen loop; returns the exit code."""
    from anivault.errors import AniVaultError, Interrupted

    screens = _screens()
    items = [MenuItem(k, label, note) for k, (label, note, _fn) in screens.items()]
    notice: str | None = None
    while True:
        try:
            key = term.menu("AniVault", items, back="Exit", clear=True, notice=notice)
        except Back:
            return 0
        except EOFError:
            term.text("")
            return 0
        except KeyboardInterrupt:
            term.text("")
            term.print("[dim]bye[/dim]")
            return int(ExitCode.INTERRUPTED)
        notice = None
        try:
            screens[key][2](term)
        except Back:
            continue
        except EOFError:
            term.text("")
            return 0
        except (KeyboardInterrupt, Interrupted) as exc:
            term.text("")
            what = "what finished is saved"
            if isinstance(exc, Interrupted) and exc.message.startswith("run "):
                what = f"{esc(exc.message)}; History & rollback can finish it"  # an organize run stopped
            notice = f"[yellow]interrupted[/yellow]: {what} (Ctrl-C again to exit)"
            term.print(notice)
        except AniVaultError as exc:
            term.show_error(exc)
            term.pause()
