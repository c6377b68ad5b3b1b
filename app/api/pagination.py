"""Paginated lists for the API: ?page=&per_page= in, {items, page, per_page, total, pages} out."""

from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields, validate

from app.extensions import db
from app.pagination import MAX_PAGE

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class PageArgsSchema(Schema):
    """The query arguments of every list: `page` (from 1) and `per_page` (1..100)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageSchema(Schema):
    """The envelope of a page; `page_of` adds the typed `items`."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


_PAGE_SCHEMAS: dict[type, type] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The schema of a page of `item_schema` (named `<Item>Page` in the OpenAPI document; made once)."""
    if item_schema not in _PAGE_SCHEMAS:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _PAGE_SCHEMAS[item_schema] = type(name, (PageSchema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} items.",
        })
    return _PAGE_SCHEMAS[item_schema]


def paginate(select, args: dict | None = None) -> dict:
    """One page of a SQLAlchemy select as {items, page, per_page, total, pages} (per_page at most 100).

    `args` are the loaded PageArgsSchema (`@bp.arguments(PageArgsSchema, location="query")`); a page past
    the end is an empty page, never an error. The select should have a stable order_by.
    """
    args = args or {}
    limit = min(current_app.config.get("API_MAX_PER_PAGE", MAX_PER_PAGE), MAX_PER_PAGE)
    per_page = min(max(int(args.get("per_page") or DEFAULT_PER_PAGE), 1), limit)
    page = min(max(int(args.get("page") or 1), 1), MAX_PAGE)
    result = db.paginate(select, page=page, per_page=per_page, max_per_page=limit, error_out=False, count=True)
    return {
        "items": list(result.items), "page": page, "per_page": per_page, "total": result.total or 0,
        "pages": result.pages,
    }
