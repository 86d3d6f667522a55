"""How the API answers what went wrong: every input problem at once (422), and a bug of
ours as 500 with an error id that the log repeats beside the traceback."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from allocator.errors import InputError, internal_error
from allocator.words import LANGS, message, said, word
from api.deps import Refused, request_lang
from models.tables import Problem


def problem_json(p: Problem, lang: str) -> dict[str, Any]:
    """A problem as the API reports it: where, the value, the rule (in English, for
    machines) and the CLI's message in ``lang``."""
    loc = [x for x in (p.file, p.row, p.field) if x is not None]
    return {"loc": loc, "file": p.file, "row": p.row, "field": p.field, "value": p.value,
            "key": p.key, "rule": p.rule, "message": said(p, lang)}  # fmt: skip


def kept(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as a job keeps them: in English, with their messages in every language."""
    return [{**problem_json(p, "en"), "messages": {lang: said(p, lang) for lang in LANGS}}
            for p in problems]  # fmt: skip


def told(problems: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Problems kept by ``kept`` as ``problem_json`` says them in ``lang`` (problems kept
    before they had their messages in every language: in English)."""
    return [{k: v for k, v in p.items() if k != "messages"}
            | {"message": p.get("messages", {}).get(lang, p["message"])} for p in problems]  # fmt: skip


async def asked_lang(request: Request) -> str:
    """The language a request asks for (``api.deps.request_lang``), whatever else is wrong
    with it: an unknown ``?lang=`` counts as not given."""
    given = request.query_params.get("lang")
    return await request_lang(request, given if given in LANGS else None)  # type: ignore[arg-type]


def invalid(problems: list[Problem], lang: str) -> JSONResponse:
    body = {
        "message": word("text.invalid_input", lang, n=len(problems)),
        "detail": [problem_json(p, lang) for p in problems],
    }
    return JSONResponse(body, status_code=422)


def shown(value: Any) -> Any:
    """A value as a 422 body can carry it: numbers that JSON cannot hold (NaN, infinity) and
    strings that are no text (lone surrogates) as printable text; containers and bytes not
    at all."""
    if isinstance(value, dict | list | bytes):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")[:200]
    return value


async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    lang = await asked_lang(request)
    problems = []
    for e in exc.errors():
        loc = [shown(str(x)) for x in e["loc"]]
        value = shown(e.get("input"))
        figures = {k: str(v) for k, v in (e.get("ctx") or {}).items()}
        rule = message(f"pydantic:{e['type']}", figures, lang, str(e["msg"]))
        problems.append({"loc": loc, "field": ".".join(loc[1:]) or loc[0], "value": value,
                         "rule": shown(e["msg"]), "message": f"{'.'.join(loc)}: {shown(rule)}"})  # fmt: skip
    body = {"message": word("text.invalid_request", lang, n=len(problems)), "detail": problems}
    return JSONResponse(json.loads(json.dumps(body, default=str)), status_code=422)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    """A refusal (``api.deps.Refused``), said in the language the request asks for."""
    assert isinstance(exc, Refused)
    return JSONResponse(
        {"detail": exc.said(await asked_lang(request))}, exc.status_code, exc.headers
    )


async def _input_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return invalid(exc.problems, await asked_lang(request))


async def _busy(_: Request, exc: Exception) -> JSONResponse:
    """The database could not be had in time (every pooled connection in use, or SQLite
    locked by a writer): the client should retry, this is no bug."""
    if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
        return await _bug(_, exc)
    body = {"detail": "the service is busy (no database connection free in time); retry"}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def _bug(_: Request, exc: Exception) -> JSONResponse:
    error_id = internal_error(exc)
    body: dict[str, Any] = {
        "detail": f"internal error {error_id}: a bug in the service, not in the request; "
        "the server's log has it under this id",
        "error_id": error_id,
    }
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(InputError, _input_invalid)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(PoolTimeout, _busy)
    app.add_exception_handler(OperationalError, _busy)
    app.add_exception_handler(Exception, _bug)
