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
from starlette.routing import Match

from mailfiler import logs
from mailfiler.api.schemas import Problem
from mailfiler.core.words import sentence
from mailfiler.errors import (
    BadRequest,
    Conflict,
    ConnectorUnavailable,
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
    (ConnectorUnavailable, 503, "crm-unavailable"),
    (SystemFault, 503, "unavailable"),
]


def problem(status: int, detail: str, code: str, **extra: Any) -> JSONResponse:
    detail = sentence(detail)
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
    for error_class, status, code in _STATUS:
        if isinstance(error, error_class):
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
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        response = problem(error.status_code, str(error.detail), "http")
        response.headers.update(error.headers or {})
        if error.status_code == 405:
            # Starlette's Allow names the first route at this path only.
            response.headers["Allow"] = ", ".join(_methods_at(request))
        return response

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=error)
        return problem(500, "something went wrong on our side; nothing was saved", "internal")


def _methods_at(request: Request) -> list[str]:
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]


# -- in the OpenAPI description --------------------------------------------------------------

# What each error answer means to a caller, as the OpenAPI description says it.
_MEANING: dict[int, str] = {
    400: "The request asks for something that cannot be done as asked; the detail says what.",
    401: "No valid sign-in: sign in again.",
    403: "Your roles, your organisation's edition or a disabled account refuse this.",
    404: "Nothing of that name in your organisation (or the message is no longer open).",
    409: "It exists already.",
    413: "The message is over the size limit.",
    422: "The request or the message cannot be read; the detail says where and why.",
    429: "Too many failed sign-ins: wait as Retry-After says.",
    500: "Something went wrong on our side; nothing was saved.",
    503: "The database or the CRM cannot be reached now; nothing was saved.",
}


def declare(schema: dict[str, Any], without_token: set[tuple[str, str]]) -> None:
    """Every operation's error answers in the OpenAPI description, as problem details.

    Those that most operations can give are added here; a route declares its
    own others (413 for a message, 409 for a create), and they get the same form.
    """
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, not ours
        schemas.pop(name, None)
    content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = {500, 503}
            if operation.get("parameters") or operation.get("requestBody"):
                codes.add(422)
            if (method, path) in without_token:
                codes |= {401, 429}
            else:
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
            if method in ("post", "put", "patch"):
                codes.add(400)
            responses = operation.setdefault("responses", {})
            for code in codes | {int(c) for c in responses if c[0] in "45"}:
                given = responses.get(str(code), {})
                responses[str(code)] = {
                    "description": given.get("description") or _MEANING[code],
                    "content": content,
                }
