"""The FastAPI application: routes under /api/v1, problem details, OpenAPI at /docs."""

from __future__ import annotations

import gc
import os
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from mailfiler import logs
from mailfiler.api import errors, web
from mailfiler.api.deps import BEARER
from mailfiler.api.headers import AnswerHeaders
from mailfiler.api.nul import RefuseNul
from mailfiler.api.routes import (
    attachments,
    contacts,
    messages,
    options,
    records,
    session,
    users,
)
from mailfiler.api.schemas import ComposedMessage
from mailfiler.config import Settings, get_settings
from mailfiler.service import Service

API = "/api/v1"


def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    app = FastAPI(
        title="mailfiler",
        version="1.0",
        summary="Files email into a CRM: read a message, review its contacts, save it.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # served below, from the package: it works without the internet
        redoc_url=None,
    )
    app.state.service = service or Service(settings)
    errors.install(app)
    for module in (session, messages, contacts, attachments, options, users, records):
        app.include_router(module.router, prefix=API)

    app.add_middleware(AnswerHeaders, rules=[api_headers, web.page_headers])
    app.add_middleware(RefuseNul)

    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # POST /messages reads its body itself (raw, upload or JSON); its JSON
        # form is declared by hand and needs its schema registered here.
        if app.openapi_schema is None:
            schema = build_openapi()
            template = "#/components/schemas/{model}"
            composed = ComposedMessage.model_json_schema(ref_template=template)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(composed.pop("$defs", {}))
            components["ComposedMessage"] = composed
            declare_bearer(schema)
            errors.declare(schema, WITHOUT_TOKEN)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    web.install(app, settings.public_url)
    _api_documentation(app)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:  # no I/O: no thread-pool hop
        return {"status": "ok"}

    logs.install()
    return app


def _api_documentation(app: FastAPI) -> None:
    """Swagger UI at /docs, its files from the swagger-ui-py package (Swagger UI 5, which
    reads OpenAPI 3.1): nothing is fetched from a CDN, so it works on an isolated network."""
    assets = Path(str(resources.files("swagger_ui"))) / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs")

    @app.get("/docs", include_in_schema=False)
    async def documentation() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API}/openapi.json",
            title="mailfiler API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


# The one API operation a caller makes without a bearer token.
WITHOUT_TOKEN = {("post", f"{API}/session")}


def declare_bearer(schema: dict[str, Any]) -> None:
    """Mark every other operation as needing the token (``deps.get_token`` checks it)."""
    schema["components"].setdefault("securitySchemes", {})["bearer"] = BEARER
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if (method, path) not in WITHOUT_TOKEN:
                operation["security"] = [{"bearer": []}]


def api_headers(path: str, state: dict[str, Any]) -> dict[str, str]:
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    expires_at = state.get("expires_at")
    if expires_at is not None:
        # The task pane learns from every answer when its sign-in now ends.
        headers["X-Session-Expires"] = expires_at.isoformat()
    return headers


def app_from_environment() -> FastAPI:
    """For `mailfiler serve` (uvicorn's factory): settings from MAILFILER_* variables."""
    settings = get_settings(environ=os.environ)
    app = create_app(settings)
    # Everything built so far (the app, SQLAlchemy's and pydantic's machinery)
    # lives as long as the process: out of the garbage collector's sight, a
    # full collection takes a few milliseconds instead of most of a hundred.
    gc.collect()
    gc.freeze()
    return app
