"""The one place where errors become HTTP answers: RFC 9457 problem details.

The caller's faults (4xx) say what to change. The system's faults (5xx) are
logged with their traceback and answered with a sentence, never the traceback.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mailfiler import logs
from mailfiler.errors import (
    BadRequest,
    Conflict,
    InvalidMessage,
    MailfilerError,
    NotFound,
    Refused,
    SystemFault,
    Throttled,
    TooLarge,
    Unauthenticated,
)

log = logs.get_logger("mailfiler.api")

PROBLEM = "application/problem+json"

# Most specific first: TooLarge is an InvalidMessage, answered 413 rather than 422.
_STATUS: list[tuple[type[MailfilerError], int, str]] = [
    (TooLarge, 413, "too-large"),
    (InvalidMessage, 422, "invalid-message"),
    (Unauthenticated, 401, "not-signed-in"),
    (Throttled, 429, "throttled"),
    (NotFound, 404, "not-found"),
    (Refused, 403, "refused"),
    (BadRequest, 400, "bad-request"),
    (Conflict, 409, "conflict"),
    (SystemFault, 503, "unavailable"),
]


def problem(status: int, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def answer(error: MailfilerError) -> JSONResponse:
    for kind, status, code in _STATUS:
        if isinstance(error, kind):
            if status >= 500:
                log.error("system fault: %s", error, exc_info=error)
            response = problem(status, str(error), code)
            if isinstance(error, Throttled):
                response.headers["Retry-After"] = str(error.retry_after)
            return response
    log.error("unclassified error: %s", error, exc_info=error)
    return problem(500, str(error), "error")


def install(app: FastAPI) -> None:
    @app.exception_handler(MailfilerError)
    async def mailfiler_error(_: Request, error: MailfilerError) -> JSONResponse:
        return answer(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in error.errors()
        ]
        first = problems[0] if problems else {"where": "", "problem": "invalid"}
        detail = f"{first['where']}: {first['problem']}" if first["where"] else first["problem"]
        return problem(422, detail, "invalid-request", errors=problems)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), "http")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=error)
        return problem(500, "something went wrong on our side; nothing was saved", "internal")
