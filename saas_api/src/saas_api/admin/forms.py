"""Form values into the API's own request schemas, and every refusal (the schema's, or the
domain layer's ApiError) onto the field that caused it, so the page shows it there."""

from __future__ import annotations

import math

from pydantic import BaseModel, ValidationError

from saas_api.errors import ApiError

# The key for an error that belongs to no one field: shown above the form.
GENERAL = "__all__"


class FormErrors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)


def text(values: dict, name: str) -> str:
    value = values.get(name, "")
    return (value[0] if isinstance(value, list) else value).strip()


def optional_text(values: dict, name: str) -> str | None:
    return text(values, name) or None


def choices(values: dict, name: str) -> list[str]:
    value = values.get(name, [])
    items = value if isinstance(value, list) else [value]
    return [item.strip() for item in items if item.strip()]


def names_list(values: dict, name: str) -> list[str]:
    """A comma- or line-separated list typed into one field."""
    return [
        part.strip() for part in text(values, name).replace("\n", ",").split(",") if part.strip()
    ]


def number(values: dict, name: str, errors: FormErrors, *, integer: bool = False):
    """The field as a number, None when empty; a word where a number belongs is the field's
    error (the API's strict schemas would refuse a string anyway)."""
    raw = text(values, name).replace(",", "").removeprefix("$")
    if not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        errors.add(name, "enter a whole number" if integer else "enter a number, like 25 or 12.50")
        return None
    if not integer and not math.isfinite(value):
        errors.add(name, "enter a finite number")
        return None
    return value


def validated(schema: type[BaseModel], data: dict, errors: FormErrors, *, fields_set=None):
    """The request as the API would take it, or None with each refusal on its field. Only the
    keys in `fields_set` (default: every key) count as given, as in a JSON body."""
    given = data if fields_set is None else {k: v for k, v in data.items() if k in fields_set}
    try:
        return schema.model_validate(given)
    except ValidationError as error:
        for problem in error.errors(include_input=False):
            location = [str(part) for part in problem.get("loc", ())]
            errors.add(location[0] if location else GENERAL, _message(problem))
        return None


def _message(problem: dict) -> str:
    message = problem.get("msg", "is not valid")
    if problem.get("type") == "string_pattern_mismatch":
        return "use letters, digits, '.', '_' or '-' (starting with a letter or digit)"
    if problem.get("type") == "missing":
        return "is required"
    return message.removeprefix("Value error, ")


def refusal(errors: FormErrors, error: ApiError, form_fields, *, conflict_field=None) -> None:
    """The domain layer's refusal onto the form: a conflict with an existing object on the id
    field when given, else on the field the answer names, else above the form."""
    named = list(error.extra.get("fields") or [])
    prefix = error.detail.split(":", 1)[0]
    if error.status == 409 and conflict_field and "already exists" in error.detail:
        field = conflict_field
    elif prefix in form_fields:
        field = prefix
    else:
        field = next((f for f in named if f in form_fields), GENERAL)
    errors.add(field, error.detail)
