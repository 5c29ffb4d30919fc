"""Canonical JSON Schemas: one file per canonical object under ``schemas/``."""

import functools
import json
import os
import re
from datetime import datetime

from jsonschema import Draft202012Validator, FormatChecker

from odoo.addons.distribution_connector.errors import PermanentError, RefusedEventError

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "schemas")

#: RFC 3339 date-time, checked here rather than by an optional jsonschema
#: extra, so validation does not depend on what else is installed
RFC3339 = re.compile(
    r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$"
)
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value):
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00").replace(" ", "T"))
    return True


@functools.cache
def validator(kind):
    path = os.path.join(SCHEMA_DIR, f"{kind}.json")
    if not os.path.exists(path):
        raise PermanentError(
            f"No canonical schema for {kind!r}.", kind="unsupported_topic", key=kind
        )
    with open(path, encoding="utf-8") as schema_file:
        schema = json.load(schema_file)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def json_path(error):
    """JSONPath of the failing element, e.g. ``$.lines[0].quantity``."""
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate(kind, data):
    """Raise a ``PermanentError`` of kind ``invalid_payload`` naming every
    failing JSON path (the first one in ``json_path``)."""
    errors = sorted(
        validator(kind).iter_errors(data), key=lambda e: list(e.absolute_path)
    )
    if not errors:
        return data
    lines = [f"{json_path(error)}: {error.message}" for error in errors[:20]]
    if len(errors) > 20:
        lines.append(f"... and {len(errors) - 20} more")
    raise PermanentError(
        f"The {kind} does not match its schema:\n" + "\n".join(lines),
        kind="invalid_payload",
        json_path=json_path(errors[0]),
    )


def check_unambiguous(kind, data, kinds):
    """Refuse a body that is just as valid a canonical object of another of
    ``kinds``: when nothing signed names its kind (the URL's topic is not
    signed), a captured shipment re-posted as a return must not become one."""
    alike = sorted(
        other
        for other in set(kinds) - {kind}
        if not any(validator(other).iter_errors(data))
    )
    if alike:
        raise RefusedEventError(
            f"The body is as valid a {' or '.join(alike)} as a {kind}, and nothing "
            f'signed says which: the sender must name it ("kind": "{kind}").',
            key=kind,
        )
    return data
