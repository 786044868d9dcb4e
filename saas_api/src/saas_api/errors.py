"""Error answers: one JSON shape, `{"detail": "<sentence naming the field>", ...}`, and request
validation errors rewritten to name each field without echoing the submitted values."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, detail: str, **extra):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, f"{kind} {name!r} does not exist")


def _field(location: tuple) -> str:
    parts = [str(p) for p in location if p != "body"]
    return ".".join(parts) or "body"


def _validation_message(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON: " + error.get("ctx", {}).get("error", "")
    if error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
        return "request body is missing: send a JSON object"
    return f"{_field(tuple(error.get('loc', ())))}: {error.get('msg', 'invalid')}"


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    messages = [_validation_message(e) for e in errors]
    fields = [
        {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in errors
    ]
    return JSONResponse(status_code=422, content={"detail": "; ".join(messages), "errors": fields})


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": exc.detail, **exc.extra})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _api_error)
