"""The scoring service's ASGI app: :func:`create_app` for one loaded model.

Endpoints (see docs/service.md): ``GET /health``, ``GET /v1/model`` (what ``custseg
profile --json`` prints), ``POST /v1/predict`` (customers as JSON), ``POST /v1/score`` (a
file in, the scored file out), ``GET /openapi.json`` and ``GET /docs`` (Swagger UI from
the bundled assets of fastapi-offline: no CDN). With an API key, every ``/v1/`` request
must carry it (``X-API-Key: KEY`` or ``Authorization: Bearer KEY``); ``/health``, the
OpenAPI document and the docs do not need it.

The app is built once per process, with the model already loaded and checked; nothing
in it reads the environment or a file other than a request's own upload, so a test
builds it directly and drives it with FastAPI's TestClient.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import weakref
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response, StreamingResponse

from custseg import __version__
from custseg.io.model_files import FORMAT_VERSION
from custseg.io.source import ReadLimits
from custseg.model.segmentation import SegmentationModel
from custseg.service import examples
from custseg.service.access import AccessLog, set_rows
from custseg.service.problems import JSONOut, Refusal, error_response
from custseg.service.records import needed_headers, parse_body, score_customers
from custseg.service.settings import Settings
from custseg.service.uploads import (
    BODY,
    CSV,
    PARQUET,
    check_gzip_file,
    check_json_type,
    check_table_type,
    content_coding,
    gunzip_json,
    output_format,
    read_json_body,
    save_body,
    score_upload,
)
from custseg.service.uploads import Workspace as _Workspace

ENDPOINTS = "GET /health, GET /v1/model, POST /v1/predict, POST /v1/score (see /docs)"


class Error(BaseModel):
    """Every refusal: what is wrong and what to do."""

    error: str


class ModelInfo(BaseModel):
    algorithm: str
    segments: int = Field(description="Segments in the profile (noise and 'Returns only' "
                                      "included when the model has them).")
    features: list[str]
    format_version: int = Field(description="The model file's format version.")


class Health(BaseModel):
    status: Literal["ok"]
    model: ModelInfo


class Result(BaseModel):
    """One customer, scored as a row of a scored file."""

    customer_id: str | int | float | None = Field(
        description="As sent (null when the customer has no id).")
    segment_id: int | None = Field(description="Empty (null) for an invalid customer.")
    segment_name: str | None
    confidence: float | None = Field(ge=0, le=1, description="The share of the nearest "
                                     "known customers in the segment.")
    atypical: bool | None = Field(description="Unlike any known customer: treat the "
                                  "assignment with care.")
    row_status: Literal["ok", "invalid"]
    row_issues: str = Field(description="Which field, which value, what is allowed; "
                            "'row N' counts the request's customers from 1.")


class Results(BaseModel):
    results: list[Result]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {400: "The body cannot be read.", 401: "The API key is missing or wrong.",
             406: "The Accept header names no format the service writes.",
             408: "The body stopped arriving (nothing for --timeout seconds).",
             413: "The body is larger than the service's limit.",
             415: "The Content-Type is not one the endpoint takes.",
             422: "The body has the wrong shape, or the table cannot be scored.",
             507: "The server's temporary folder is full.",
             500: "An internal error (a bug, logged by the server)."}
    return {code: {"model": Error, "description": words[code]} for code in codes}



#: What a response says it warns of: at most this many warnings, each cut to this length.
MAX_WARNINGS, MAX_WARNING_CHARS = 10, 1_000


def warning_headers(warnings: list[str]) -> dict[str, str]:
    """``X-Custseg-Warnings``: what ``custseg score`` prints as ``warning:`` lines for
    the same input (an income column read as dollars…), as a JSON list in ASCII (a
    header holds no other text); no header when there is none."""
    if not warnings:
        return {}
    shown = [w[:MAX_WARNING_CHARS] for w in warnings[:MAX_WARNINGS]]
    return {"X-Custseg-Warnings": json.dumps(shown, ensure_ascii=True)}


def model_info(model: SegmentationModel, format_version: int) -> dict[str, Any]:
    return {"algorithm": model.config.algorithm, "segments": len(model.segments),
            "features": list(model.config.features), "format_version": int(format_version)}


#: How a request carries the API key (declared here, so that the OpenAPI document and
#: the docs' "Authorize" button know both).
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="The API key (or send Authorization: Bearer KEY).")
BEARER = HTTPBearer(auto_error=False, description="The API key as a bearer token.")


def _key_check(expected: str):
    """The dependency that admits a request carrying ``expected``."""
    digest = hashlib.sha256(expected.encode("utf-8")).digest()

    async def require_key(
        request: Request,
        key: Annotated[str | None, Security(API_KEY_HEADER)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    ) -> None:
        # every key the request carries, not the first of each header: a header sent
        # twice with a wrong key in either copy is a wrong key, as two headers are
        given = presented_keys(request.headers)
        challenge = {"WWW-Authenticate": "Bearer"}
        if not given:
            raise Refusal(401, "this service needs an API key: send it in the header "
                               "'X-API-Key: KEY' or 'Authorization: Bearer KEY'", challenge)
        # compared as digests in constant time: neither the key nor its length leaks
        if not all(hmac.compare_digest(hashlib.sha256(k.encode("latin-1", "replace"))
                                       .digest(), digest) for k in given):
            raise Refusal(401, "the API key is wrong; send the key the service was started "
                               "with (the value of its --api-key-env variable)", challenge)

    return require_key


def presented_keys(headers: Any) -> list[str]:
    """The keys of every ``X-API-Key`` header and every ``Authorization: Bearer`` one
    (blank ones left out, as no key), in order."""
    keys = [v.strip() for v in headers.getlist("x-api-key") if v.strip()]
    for value in headers.getlist("authorization"):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            keys.append(token.strip())
    return keys


def _predict_body_schema(model: SegmentationModel, settings: Settings) -> dict[str, Any]:
    spec = model.config.spec
    categorical = {f.column for f in spec.extra if f.categorical}
    # no "type": any JSON value is taken, and one that no file cell can be (true/false,
    # an object, a list) makes its customer invalid rather than failing the request
    properties: dict[str, Any] = {"customer_id": {
        "maxLength": settings.max_text_chars,
        "description": "A string or a number; echoed in the result, as sent.",
        "examples": ["C0001"]}}
    for header in needed_headers(model):
        text_only = header in categorical or header in spec.date_formats or header == "gender"
        properties[header] = {
            "maxLength": settings.max_text_chars,
            "description": ("A string" if text_only else "A number or a string") + ", as "
                           "the fitted file holds the cell; null for a missing value."}
    customer = {
        "type": "object", "properties": properties, "additionalProperties": True,
        "maxProperties": settings.max_keys,
        "propertyNames": {"maxLength": settings.max_text_chars},
        "description": "One customer: column header -> value, as in the file the model was "
                       "fitted on (other keys pass through unused). A value that is not a "
                       "number, a string or null makes the customer invalid.",
    }
    return {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "required": ["customers"], "additionalProperties": False,
                   "properties": {"customers": {"type": "array", "minItems": 1,
                                                "maxItems": settings.max_rows,
                                                "items": customer}}},
        }}}


def create_app(model: SegmentationModel, settings: Settings | None = None, *,
               format_version: int = FORMAT_VERSION, name: str = "model") -> FastAPI:
    """The service for ``model`` (loaded and checked by the caller), with ``settings``'
    limits and key; ``format_version`` is the model file's, ``name`` its file name."""
    settings = settings or Settings()
    info = model_info(model, format_version)
    profile = model.summary()
    predict_request, predict_response = examples.predict_examples(model)
    score_request, score_response = examples.score_examples(model)
    scoring = ScoreSlots(settings.max_concurrent_scores)
    parsing = ByteBudget(JSON_AT_ONCE * settings.max_json_bytes)
    limits = ReadLimits(max_decompressed_bytes=settings.max_decompressed_bytes)
    keyed = settings.api_key is not None
    guard = [Security(_key_check(settings.api_key))] if keyed else []

    app = FastAPIOffline(
        title="custseg scoring service",
        version=__version__,
        description=(
            f"Scores customers with the model {name!r} ({info['algorithm']}, "
            f"{info['segments']} segments on {', '.join(info['features'])}): the same "
            "validation and row flags as `custseg score`. "
            + ("Every /v1/ request needs the API key (X-API-Key or Authorization: Bearer). "
               if keyed else "No API key is set.")
            + f" At most {settings.max_rows:,} customers per /v1/predict request; bodies of "
            f"at most {settings.max_json_bytes >> 20} MB (JSON) and "
            f"{settings.max_body_bytes >> 20} MB (files)."),
        redoc_url=None,
        # no redirect from '/health/' to '/health': Starlette builds its Location from the
        # client's Host header (an open redirect), and the redirect is no {"error"} body
        redirect_slashes=False,
        default_response_class=JSONOut,
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.add_middleware(AccessLog)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"there is no such endpoint; the endpoints are {ENDPOINTS}"
            if request.url.path.endswith("/") and request.url.path != "/":
                message += ", without a trailing slash"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            if allowed == "GET":  # each GET route has a HEAD twin (see below)
                allowed = "GET, HEAD"
                exc.headers = {**(exc.headers or {}), "Allow": allowed}
            message = f"{request.method[:10]} is not allowed here; use {allowed or 'another method'}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, f"{where or 'the request'}: {first.get('msg', 'invalid')}; "
                                   "see /docs")

    @app.get("/health", response_model=Health, responses=_errors(500),
             summary="Whether the service is up, and its model")
    async def health() -> Response:
        return JSONOut({"status": "ok", "model": info})

    @app.get("/v1/model", dependencies=guard, responses={
        200: {"description": "The profile, as `custseg profile --json` prints it.",
              "content": {"application/json": {"schema": {"type": "object"}}}},
        **_errors(*((401,) if keyed else ()), 500)},
        summary="The model's profile (custseg profile --json)")
    async def model_profile() -> Response:
        return JSONOut(profile)

    @app.post("/v1/predict", dependencies=guard, response_model=Results,
              responses=_errors(400, *((401,) if keyed else ()), 408, 413, 415, 422, 500),
              openapi_extra={"requestBody": _predict_body_schema(model, settings)},
              summary="Score customers given as JSON")
    async def predict(request: Request) -> Response:
        check_json_type(request.headers.get("content-type"))
        coding = content_coding(request.headers.get("content-encoding"))
        body = await read_json_body(request, settings.max_json_bytes, settings.timeout)
        if coding == "gzip":
            body = await run_in_threadpool(gunzip_json, body, settings.max_json_bytes)

        def work() -> tuple[int, Response]:
            said: list[str] = []
            results = score_customers(model, parse_body(body, settings), settings, said)
            return len(results), JSONOut({"results": results}, headers=warning_headers(said))

        # parsed, a body takes some twenty times its size: a byte budget bounds what is
        # parsed at once (40 threads of 16 MB bodies were some 13 GB); more wait in turn
        async with parsing.room(len(body)):
            rows, response = await run_in_threadpool(work)
        set_rows(request.scope, rows)
        return response

    binary = {"schema": {"type": "string", "format": "binary"}}
    score_body = {"required": True, "content": {
        CSV: {"schema": {"type": "string"}},
        "text/tab-separated-values": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": binary,
        PARQUET: binary, "application/gzip": binary, "application/octet-stream": binary}}

    @app.post("/v1/score", dependencies=guard, response_class=Response, responses={
        200: {"description": "The scored file: every input row, in order, with the segment "
                             "columns; the bytes `custseg score` writes.",
              "content": {CSV: {"schema": {"type": "string"}}, PARQUET: binary}},
        **_errors(400, *((401,) if keyed else ()), 406, 408, 413, 415, 422, 500, 507)},
        openapi_extra={"requestBody": score_body}, summary="Score a file")
    async def score(request: Request) -> Response:
        check_table_type(request.headers.get("content-type"))
        coding = content_coding(request.headers.get("content-encoding"))
        fmt = output_format(request.headers.get("accept"))
        with _Workspace() as folder:
            upload = folder / BODY
            await save_body(request, settings.max_body_bytes, upload, settings.timeout)
            if coding == "gzip":  # read as the gzip file it is, as custseg score reads one
                check_gzip_file(upload)
            # a request waits for its turn here, in the event loop, not in a worker
            # thread: waiting in threads used up the pool /v1/predict needs as well
            async with scoring.slot():
                scored = await run_in_threadpool(score_upload, model, upload, fmt, limits)
        set_rows(request.scope, scored.report.n_rows)
        return StreamingResponse(
            scored.chunks(), media_type=CSV if fmt == "csv" else PARQUET,
            # closed even when the client leaves mid-response, which stops the chunks
            # without closing them: the unlinked file's disk space was held until then
            background=BackgroundTask(scored.close),
            headers={"Content-Length": str(scored.size),
                     "Content-Disposition": f'attachment; filename="scored.{fmt}"',
                     "X-Custseg-Rows": str(scored.report.n_rows),
                     "X-Custseg-Invalid": str(scored.report.n_invalid),
                     "X-Custseg-Atypical": str(scored.report.n_atypical),
                     **warning_headers(scored.report.warnings)})

    # HEAD for every GET (HTTP requires it; a load balancer probes /health with it): the
    # same endpoint, its body left out by the server; not in the OpenAPI document
    for route in list(app.routes):
        if isinstance(route, APIRoute) and route.methods == {"GET"}:
            app.add_api_route(route.path, route.endpoint, methods=["HEAD"],
                              include_in_schema=False, dependencies=route.dependencies,
                              response_class=route.response_class)

    examples_at = {
        ("/health", "get", "responses"): {"status": "ok", "model": info},
        # the open document never shows the profile that the key guards
        ("/v1/model", "get", "responses"): None if keyed else profile,
        ("/v1/predict", "post", "requestBody"): predict_request,
        ("/v1/predict", "post", "responses"): predict_response,
        ("/v1/score", "post", "requestBody"): score_request,
        ("/v1/score", "post", "responses"): score_response,
    }

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with the examples put in afterwards: FastAPI drops every
        null from what it generates, and a result's nulls (an invalid customer's empty
        segment) are what the example must show."""
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            for (path, method, where), example in examples_at.items():
                if example is None:
                    continue
                part = document["paths"][path][method][where]
                content = part["content"] if where == "requestBody" else \
                    part["200"]["content"]
                kind = "application/json" if "application/json" in content else CSV
                content[kind]["example"] = example
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


#: How many bodies of the largest size /v1/predict takes are parsed at once.
JSON_AT_ONCE = 4


class ByteBudget:
    """At most ``total`` bytes of request bodies worked on at once, the others waiting
    in the event loop, in order; a body larger than ``total`` takes all of it. One per
    event loop, as :class:`ScoreSlots`."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._by_loop: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()

    @contextlib.asynccontextmanager
    async def room(self, size: int) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        state = self._by_loop.get(loop)
        if state is None:
            state = self._by_loop[loop] = [asyncio.Condition(), 0]
        ready, need = state[0], min(max(size, 1), self.total)
        async with ready:
            await ready.wait_for(lambda: state[1] + need <= self.total)
            state[1] += need
        try:
            yield
        finally:
            async with ready:
                state[1] -= need
                ready.notify_all()


class ScoreSlots:
    """At most ``n`` /v1/score requests scored at once, the others waiting in the event
    loop, in order. One semaphore per event loop (an app serves one loop in a process;
    a test drives the same app from several)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._by_loop: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())

    def slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.n)
        return semaphore


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers N``), from the settings the parent
    left in the environment: the model file loaded again, and refused unless it is the
    file the parent checked (same SHA-256)."""
    from custseg.io.model_files import read_model_file
    from custseg.service.protocol import Protocol
    from custseg.service.settings import worker_setup

    setup = worker_setup()
    Protocol.timeout = setup.settings.timeout  # this worker's connections
    loaded = read_model_file(setup.model)
    if loaded.sha256 != setup.sha256:
        raise RuntimeError(f"the model file {setup.model!r} changed after the service "
                           "started; restart custseg serve")
    from pathlib import Path

    return create_app(loaded.model, setup.settings, format_version=loaded.format_version,
                      name=Path(setup.model).name)
