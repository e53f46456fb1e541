"""Reading a bulk-track upload: a JSON {"items": [...]} body or a CSV file, 100 lines at most."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from services.core.errors import FieldError, InvalidInput, MalformedBody

MAX_BULK = 100
MAX_BULK_BYTES = 256 * 1024
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


def csv_items(text: str) -> list[dict[str, Any]]:
    """product,marketplace,alias,tags,role,frequency (header required; tags split by ';')."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "product" not in [f.strip() for f in reader.fieldnames]:
        raise InvalidInput(
            "The CSV needs a header line with at least a 'product' column",
            field_errors=[FieldError("body", "missing header 'product'")],
        )
    items = []
    for row in reader:
        item: dict[str, Any] = {
            k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()
        }
        if "tags" in item:
            item["tags"] = [t for t in item["tags"].split(";") if t.strip()]
        items.append(item)
    return items


def _csv(body: bytes) -> list[Any]:
    try:
        return list(csv_items(body.decode("utf-8-sig")))
    except csv.Error as exc:
        raise InvalidInput(
            f"The CSV could not be read: {exc}",
            field_errors=[FieldError("body", "malformed CSV")],
        ) from exc
    except UnicodeDecodeError as exc:
        raise MalformedBody(
            "The CSV is not UTF-8", field_errors=[FieldError("body", "encoding")]
        ) from exc


def _json(body: bytes) -> list[Any]:
    try:
        payload = json.loads(body or b"null")
    except (ValueError, RecursionError) as exc:
        raise MalformedBody(
            "The body is not JSON", field_errors=[FieldError("body", "malformed")]
        ) from exc
    raw_items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(raw_items, list):
        raise InvalidInput(
            'Send {"items": [...]}',
            field_errors=[FieldError("items", "a list is required")],
        )
    return raw_items


def parse_bulk_upload(body: bytes, content_type: str) -> list[Any]:
    """The raw lines of an upload (each validated later, on its own); 4xx for a bad upload."""
    if len(body) > MAX_BULK_BYTES:
        raise InvalidInput(
            "The upload is too large", field_errors=[FieldError("body", "256 KiB max")]
        )
    media_type = content_type.split(";")[0].strip().lower()
    items = _csv(body) if media_type in CSV_TYPES else _json(body)
    if not items:
        raise InvalidInput("No lines to track", field_errors=[FieldError("items", "empty")])
    if len(items) > MAX_BULK:
        raise InvalidInput(
            f"At most {MAX_BULK} lines per request",
            field_errors=[FieldError("items", f"{len(items)} lines, {MAX_BULK} max")],
        )
    return items
