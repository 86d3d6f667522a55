"""The command line: a thin layer over ``allocator.sources``, ``allocator.engine``, the
explanations and the writers.

Exit codes: 0 solved; 1 no usable result (solver error, limit without a solution, or an
allocation the evaluator rejects: nothing written) or a bug of ours (with an error id whose
traceback is in the log); 2 invalid input (every problem listed, nothing written); 3 valid
but infeasible (summary and diagnosis written). Other packages add commands through the
entry point group ``allocator.commands`` (the scenario service adds ``serve`` and ``keys``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from allocator.errors import AllocatorError, InputError, internal_error
from allocator.words import DEFAULT_LANG, LANGS, said, word
from models.backends import BACKEND_NAMES

if TYPE_CHECKING:
    from allocator.engine import Options
    from allocator.inputs import Inputs

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out_console = Console()
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")
Say = Callable[[str], None]
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INFEASIBLE = 0, 1, 2, 3
LOG = Path(".cache/allocator/errors.log")


def _known_backend(value: str | None) -> str | None:
    """``--backend`` checked when the command line is parsed: a typo exits 2 at once."""
    if value is not None and value not in BACKEND_NAMES:
        raise typer.BadParameter(f"was {value!r} but is expected to be one of {', '.join(BACKEND_NAMES)}")  # fmt: skip
    return value


Backend = Annotated[
    str | None, typer.Option(callback=_known_backend, help=f"One of {', '.join(BACKEND_NAMES)}.")
]


def _known_lang(value: str | None) -> str | None:
    if value is not None and value not in LANGS:
        raise typer.BadParameter(f"was {value!r} but is expected to be one of {', '.join(LANGS)}")  # fmt: skip
    return value


Lang = Annotated[
    str | None,
    typer.Option(callback=_known_lang, help="Words in the outputs: zh or en (default: the scenario's lang, zh)."),
]  # fmt: skip
Cache = Annotated[
    Path,
    typer.Option(envvar="ALLOCATOR_CACHE", help="Folder of the land-scan cache."),
]
DEFAULT_CACHE = Path(".cache/allocator")


def report_problems(exc: InputError, lang: str) -> None:
    err.print(f"[bold red]{word('text.invalid_input', lang, n=len(exc.problems))}[/]")
    for problem in exc.problems:
        err.print(f"  - {said(problem, lang)}", markup=False, highlight=False)


def _bug(exc: Exception, lang: str) -> typer.Exit:
    """Log a bug's traceback to ``LOG`` under a new error id; tell the user the id."""
    logger = logging.getLogger("allocator")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(LOG, encoding="utf-8")
    logger.addHandler(handler)
    try:
        error_id = internal_error(exc)
    finally:
        logger.removeHandler(handler)
        handler.close()
    err.print(word("text.internal_error", lang, id=error_id, kind=type(exc).__name__, log=LOG),
              markup=False)  # fmt: skip
    return typer.Exit(EXIT_FAILED)


def guarded(label: str, work: Callable[[Say], T], lang: str | None = None) -> T:
    """Run ``work(progress)`` under a status line; each error type has its exit code; input
    problems are said in ``lang`` (default zh)."""
    try:
        with err.status(label) as status:
            return work(lambda m: status.update(m))
    except InputError as exc:
        report_problems(exc, lang or DEFAULT_LANG)
        raise typer.Exit(EXIT_INVALID) from None
    except AllocatorError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # anything else is a bug of ours
        raise _bug(exc, lang or DEFAULT_LANG) from None


def options(backend: str | None, cache: Path, say: Say, **more: object) -> Options:
    from allocator.engine import Options

    return Options(backend=backend, cache=cache, progress=say, **more)  # type: ignore[arg-type]


def read(scenario: Path) -> Inputs:
    """A scenario file and everything it names, checked."""
    from allocator.sources import read_inputs

    return read_inputs(scenario)


from allocator.cli import land, solve, tools, whatif  # noqa: E402  (their commands register)

for _entry in entry_points(group="allocator.commands"):
    _command = _entry.load()
    if isinstance(_command, typer.Typer):
        app.add_typer(_command, name=_entry.name)
    else:
        app.command(_entry.name)(_command)

__all__ = ["app", "land", "solve", "tools", "whatif"]

if __name__ == "__main__":
    app()
