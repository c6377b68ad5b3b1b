"""Questionnaire files: reading and checking an instrument file (YAML or JSON) into a Definition.

A file is refused with messages naming the line and the field (`items[3].reverse`). Pure: no database; the
services that store versions are in app.feedback.services.instruments.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from flask_babel import gettext as _

from app.errors import DomainError
from app.feedback import scoring
from app.feedback.scoring import Definition

SHIPPED_CODE = "balint-feedback"
SHIPPED_FILE = Path(__file__).resolve().parent / "instruments" / "balint-feedback-v1.yaml"
MAX_FILE_CHARS = 300_000
MAX_NODES = 50_000  # YAML aliases can multiply a small file; refuse anything this deep
MAX_ERRORS = 20
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")

FieldPath = tuple[str | int, ...]


class InstrumentError(DomainError):
    """A questionnaire file was refused; `messages` lists every problem found, each naming line and field."""

    def __init__(self, messages: list[str], field: str | None = "source"):
        super().__init__(messages[0], field)
        self.messages = messages


# --- reading the file ------------------------------------------------------------------------


def _format_path(path: FieldPath) -> str:
    """("items", 3, "reverse") -> "items[3].reverse"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_map(text: str) -> tuple[dict[FieldPath, int], list[tuple[FieldPath, int]]]:
    """Line numbers (1-based) of every node by path, and the duplicate keys found (path, line).

    Raises yaml.YAMLError when the text is not YAML, InstrumentError when it nests too deep.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[FieldPath, int] = {}
    duplicates: list[tuple[FieldPath, int]] = []
    budget = [MAX_NODES]

    def walk(node: yaml.Node, path: FieldPath) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise InstrumentError([_("The file is too large or nested too deeply.")])
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                if key in seen and key != "<<":
                    duplicates.append(((*path, key), key_node.start_mark.line + 1))
                seen.add(key)
                lines.setdefault((*path, key), key_node.start_mark.line + 1)
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                walk(child, (*path, index))

    if root is not None:
        walk(root, ())
    return lines, duplicates


def _line_message(line: int | None, problem: str) -> str:
    return _("Line %(line)s: %(problem)s", line=line, problem=problem) if line else problem


def _load(text: str, filename: str) -> tuple[Any, dict[FieldPath, int], list[tuple[FieldPath, int]]]:
    """The file's data, the line of each path, and its duplicate keys. Raises InstrumentError."""
    if len(text) > MAX_FILE_CHARS:
        raise InstrumentError([_("The file is too large (at most %(n)s characters).", n=MAX_FILE_CHARS)])
    if not text.strip():
        raise InstrumentError([_("The file is empty.")])
    name = (filename or "").lower()
    is_json = name.endswith(".json") or (not name.endswith((".yaml", ".yml")) and text.lstrip().startswith("{"))
    if is_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InstrumentError([_line_message(exc.lineno, _("not valid JSON (%(problem)s, column %(col)s).",
                                                                problem=exc.msg, col=exc.colno))]) from None
        except ValueError:  # not JSONDecodeError: a number of thousands of digits, which Python will not read
            raise InstrumentError([_too_many_digits()]) from None
        try:
            lines, duplicates = _line_map(text)
        except yaml.YAMLError:  # valid JSON that the YAML reader does not take: field paths only
            lines, duplicates = {}, []
        return data, lines, duplicates
    try:
        lines, duplicates = _line_map(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _("not valid YAML (%(problem)s).", problem=exc.problem or exc.context or "")
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != mark.line:
            # e.g. an unclosed bracket: the parser notices on a later line than where the list began
            problem = _("not valid YAML (%(problem)s, %(context)s on line %(line)s).", problem=exc.problem,
                        context=exc.context, line=exc.context_mark.line + 1)
        raise InstrumentError([_line_message(mark.line + 1 if mark else None, problem)]) from None
    except yaml.YAMLError as exc:
        raise InstrumentError([_("Not valid YAML (%(problem)s).", problem=str(exc))]) from None
    except ValueError:  # a number of thousands of digits, which Python will not read
        raise InstrumentError([_too_many_digits()]) from None
    return data, lines, duplicates


def _too_many_digits() -> str:
    """Python refuses to read an integer of more than 4300 digits (a ValueError): say so instead of failing."""
    return _("The file holds a number with too many digits.")


# --- checking it -----------------------------------------------------------------------------

_TOP_FIELDS = {"code", "version", "title", "description", "licence", "source", "requires_permission", "items",
               "subscales", "self_generated_code"}
_ITEM_FIELDS = {"code", "type", "text", "required", "min", "max", "anchors", "choices", "reverse", "max_length",
                "standard"}
_SUBSCALE_FIELDS = {"code", "title", "items", "bands"}
_BAND_FIELDS = {"min", "max", "label", "concern"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    """Walks the raw data, collecting problems with their line and field, and builds the normalised dict."""

    def __init__(self, lines: dict[FieldPath, int]):
        self.lines = lines
        self.errors: list[str] = []
        self.item_codes: set[str] = set()
        self.standard: dict[str, str] = {}  # standard question -> the item code that asks it

    def line(self, path: FieldPath) -> int | None:
        for end in range(len(path), -1, -1):
            key = tuple(str(p) if not isinstance(p, int) else p for p in path[:end])
            if key in self.lines:
                return self.lines[key]
        return None

    def fail(self, path: FieldPath, problem: str) -> None:
        field = _format_path(path)
        message = _("%(field)s: %(problem)s", field=field, problem=problem) if field else problem
        self.errors.append(_line_message(self.line(path), message))

    # small typed readers: each returns the value, or None after recording a problem

    def mapping(self, value: Any, path: FieldPath, allowed: set[str]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(path, _("expected a mapping of fields."))
            return None
        for key in value:
            if str(key) not in allowed:
                self.fail((*path, str(key)), _("unknown field (expected one of: %(fields)s).",
                                               fields=", ".join(sorted(allowed))))
        return value

    def sequence(self, value: Any, path: FieldPath, *, required: bool = True) -> list | None:
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            self.fail(path, _("expected a non-empty list."))
            return None
        return value

    def string(self, value: Any, path: FieldPath, max_length: int) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, _("required text is missing (write it in quotes if it is a number or a date)."))
            return None
        if len(value.strip()) > max_length:
            self.fail(path, _("too long (at most %(n)s characters).", n=max_length))
            return None
        return value.strip()

    def code(self, value: Any, path: FieldPath) -> str | None:
        if not isinstance(value, str) or not CODE_PATTERN.match(value):
            self.fail(path, _("expected a code of lower-case letters, digits, “-”, “_” or “.” "
                              "(at most 60 characters)."))
            return None
        return value

    def boolean(self, value: Any, path: FieldPath, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, _("expected true or false."))
            return default
        return value

    def text(self, value: Any, path: FieldPath, max_length: int) -> dict[str, str] | None:
        """A text in both languages: {en: ..., zh_CN: ...}."""
        if not isinstance(value, dict):
            self.fail(path, _("expected the text in both languages (en and zh_CN)."))
            return None
        out = {}
        for key in value:
            if key not in scoring.LANGUAGES:
                self.fail((*path, str(key)), _("unknown language (expected en and zh_CN)."))
        for lang in scoring.LANGUAGES:
            text = self.string(value.get(lang), (*path, lang), max_length)
            if text is not None:
                out[lang] = text
        return out if len(out) == len(scoring.LANGUAGES) else None

    # the parts of a definition

    def definition(self, data: Any) -> dict | None:
        top = self.mapping(data, (), _TOP_FIELDS)
        if top is None:
            return None
        out: dict[str, Any] = {
            "code": self.code(top.get("code"), ("code",)),
            "title": self.text(top.get("title"), ("title",), 300),
            "licence": self.string(top.get("licence"), ("licence",), 300),
            "source": self.string(top.get("source"), ("source",), 500),
            "requires_permission": self.boolean(top.get("requires_permission"), ("requires_permission",), False),
        }
        if self.boolean(top.get("self_generated_code"), ("self_generated_code",), False):
            out["self_generated_code"] = True
        version = top.get("version")
        if not _is_int(version) or version < 1:
            self.fail(("version",), _("expected a positive whole number."))
        out["version"] = version
        if top.get("description") is not None:
            out["description"] = self.text(top["description"], ("description",), 2000)
        items = self.sequence(top.get("items"), ("items",))
        out["items"] = [self.item(raw, ("items", i)) for i, raw in enumerate(items or [])]
        known = {item["code"]: item for item in out["items"] if item and item.get("code")}
        subscales = self.sequence(top.get("subscales"), ("subscales",), required=False) or []
        taken: dict[str, str] = {}
        out["subscales"] = []
        seen = set()
        for i, raw in enumerate(subscales):
            sub = self.subscale(raw, ("subscales", i), known, taken)
            if sub and sub["code"] in seen:
                self.fail(("subscales", i, "code"), _("the subscale code “%(code)s” is used twice.", code=sub["code"]))
            if sub:
                seen.add(sub["code"])
            out["subscales"].append(sub)
        return out

    def item(self, raw: Any, path: FieldPath) -> dict | None:
        item = self.mapping(raw, path, _ITEM_FIELDS)
        if item is None:
            return None
        code = self.code(item.get("code"), (*path, "code"))
        if code is not None and code in self.item_codes:
            self.fail((*path, "code"), _("the item code “%(code)s” is used twice.", code=code))
        if code is not None:
            self.item_codes.add(code)
        kind = item.get("type")
        if kind not in scoring.ITEM_TYPES:
            self.fail((*path, "type"), _("expected one of: %(types)s.", types=", ".join(scoring.ITEM_TYPES)))
            return None
        out: dict[str, Any] = {
            "code": code, "type": kind, "text": self.text(item.get("text"), (*path, "text"), 1000),
            "required": self.boolean(item.get("required"), (*path, "required"), True),
        }
        numeric = kind in scoring.NUMERIC_TYPES
        for name in ("min", "max", "anchors", "reverse"):
            if not numeric and item.get(name) is not None:
                self.fail((*path, name), _("only likert and scale items have “%(field)s”.", field=name))
        if kind != "choice" and item.get("choices") is not None:
            self.fail((*path, "choices"), _("only choice items have “choices”."))
        if kind != "text" and item.get("max_length") is not None:
            self.fail((*path, "max_length"), _("only text items have “max_length”."))
        if item.get("standard") is not None:
            self.standard_item(item, path, out, numeric)
        if numeric:
            self.scale(item, path, out)
        elif kind == "choice":
            out["choices"] = self.choices(item.get("choices"), (*path, "choices"))
        else:
            length = item.get("max_length", scoring.TEXT_MAX_LENGTH)
            if not _is_int(length) or not 1 <= length <= scoring.TEXT_MAX_LENGTH:
                self.fail((*path, "max_length"), _("expected a whole number from 1 to %(n)s.",
                                                   n=scoring.TEXT_MAX_LENGTH))
                length = scoring.TEXT_MAX_LENGTH
            out["max_length"] = length
        return out

    def standard_item(self, item: dict, path: FieldPath, out: dict, numeric: bool) -> None:
        """`standard: attendance`: a rated item from 0 or 1 up, answered in meetings attended; one per file."""
        value = item["standard"]
        if value not in scoring.STANDARD_ITEMS:
            self.fail((*path, "standard"), _("expected one of: %(values)s.", values=", ".join(scoring.STANDARD_ITEMS)))
            return
        if not numeric:
            self.fail((*path, "standard"), _("a standard question is a rated item (likert or scale)."))
            return
        if value in self.standard:
            self.fail((*path, "standard"), _("only one item may be the standard question “%(standard)s”.",
                                             standard=value))
            return
        low = item.get("min")
        if item.get("reverse") or (_is_int(low) and low < 0):
            self.fail((*path, "standard"), _("the attendance question counts meetings: its scale starts at 0 or 1 "
                                             "and it is not reverse-scored."))
            return
        self.standard[value] = str(item.get("code"))
        out["standard"] = value

    def scale(self, item: dict, path: FieldPath, out: dict) -> None:
        low, high = item.get("min"), item.get("max")
        for name, value in (("min", low), ("max", high)):
            if not _is_int(value):
                self.fail((*path, name), _("expected a whole number."))
        valid = _is_int(low) and _is_int(high)
        if valid and not (low < high and high - low <= 100):
            self.fail((*path, "max"), _("the scale must run from min to a larger max (at most 100 steps)."))
            valid = False
        out.update(min=low, max=high, reverse=self.boolean(item.get("reverse"), (*path, "reverse"), False))
        anchors = item.get("anchors")
        out["anchors"] = {}
        if anchors is None:
            if item["type"] == "likert":
                self.fail((*path, "anchors"), _("a likert item needs labelled anchors, e.g. 1: {en: …, zh_CN: …}."))
            return
        if not isinstance(anchors, dict) or not anchors:
            self.fail((*path, "anchors"), _("expected a mapping of values to labels."))
            return
        for key, label in anchors.items():
            value = int(key) if isinstance(key, str) and key.strip().lstrip("-").isdigit() else key
            if not _is_int(value):
                self.fail((*path, "anchors", str(key)), _("an anchor must be a whole number on the scale."))
                continue
            if valid and not low <= value <= high:
                self.fail((*path, "anchors", str(key)), _("the anchor %(value)s is outside the scale %(min)s–%(max)s.",
                                                          value=value, min=low, max=high))
                continue
            text = self.text(label, (*path, "anchors", str(key)), 100)
            if text:
                out["anchors"][str(value)] = text

    def choices(self, raw: Any, path: FieldPath) -> list:
        options = self.sequence(raw, path) or []
        out, seen = [], set()
        for i, option in enumerate(options):
            option = self.mapping(option, (*path, i), {"value", "label"})
            if option is None:
                continue
            value = option.get("value")
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
                self.fail((*path, i, "value"), _("expected a value (a word or a whole number)."))
                continue
            value = str(value).strip()
            if value in seen:
                self.fail((*path, i, "value"), _("the choice value “%(value)s” is used twice.", value=value))
            seen.add(value)
            out.append({"value": value, "label": self.text(option.get("label"), (*path, i, "label"), 200)})
        return out

    def subscale(self, raw: Any, path: FieldPath, known: dict[str, dict], taken: dict[str, str]) -> dict | None:
        sub = self.mapping(raw, path, _SUBSCALE_FIELDS)
        if sub is None:
            return None
        code = self.code(sub.get("code"), (*path, "code"))
        out: dict[str, Any] = {"code": code, "title": self.text(sub.get("title"), (*path, "title"), 300),
                               "items": [], "bands": []}
        scales = set()
        for j, item_code in enumerate(self.sequence(sub.get("items"), (*path, "items")) or []):
            item = known.get(item_code) if isinstance(item_code, str) else None
            if item is None:
                self.fail((*path, "items", j), _("no item has the code “%(code)s”.", code=item_code))
                continue
            if item["type"] not in scoring.NUMERIC_TYPES:
                self.fail((*path, "items", j), _("“%(code)s” is not a rated item (likert or scale).", code=item_code))
                continue
            if item.get("standard") is not None:
                self.fail((*path, "items", j), _("“%(code)s” is a standard question and belongs to no subscale.",
                                                 code=item_code))
                continue
            if item_code in taken:
                self.fail((*path, "items", j), _("“%(code)s” already belongs to the subscale “%(other)s”.",
                                                 code=item_code, other=taken[item_code]))
                continue
            taken[item_code] = code or "?"
            scales.add((item.get("min"), item.get("max")))
            out["items"].append(item_code)
        if len(scales) > 1:
            self.fail((*path, "items"), _("every item of a subscale must use the same scale."))
        low, high = next(iter(scales)) if len(scales) == 1 else (None, None)
        for k, band in enumerate(self.sequence(sub.get("bands"), (*path, "bands"), required=False) or []):
            out["bands"].append(self.band(band, (*path, "bands", k), low, high))
        return out

    def band(self, raw: Any, path: FieldPath, low: int | None, high: int | None) -> dict | None:
        band = self.mapping(raw, path, _BAND_FIELDS)
        if band is None:
            return None
        out: dict[str, Any] = {"label": self.text(band.get("label"), (*path, "label"), 200),
                               "concern": self.boolean(band.get("concern"), (*path, "concern"), False)}
        if band.get("min") is None and band.get("max") is None:
            self.fail(path, _("a band needs a min, a max or both."))
        for name in ("min", "max"):
            value = band.get(name)
            if value is None:
                continue
            if not _is_number(value):
                self.fail((*path, name), _("expected a number."))
            elif _is_int(low) and _is_int(high) and not low <= value <= high:
                self.fail((*path, name), _("%(value)s is outside the subscale's scale %(min)s–%(max)s.",
                                           value=value, min=low, max=high))
            else:
                out[name] = float(value)
        if "min" in out and "max" in out and out["min"] > out["max"]:
            self.fail((*path, "max"), _("the band's max is below its min."))
        return out


def parse_instrument(text: str, filename: str) -> Definition:
    """Read a questionnaire file (YAML, or JSON by its name or first character) into a Definition.

    Raises InstrumentError listing every problem found, each naming the line and the field path.
    """
    try:
        data, lines, duplicates = _load(text, filename)
    except RecursionError:
        raise InstrumentError([_("The file is too large or nested too deeply.")]) from None
    checker = _Checker(lines)
    for path, line in duplicates:
        checker.errors.append(_line_message(line, _("%(field)s: the field appears twice.",
                                                    field=_format_path(path))))
    normalised = checker.definition(data)
    if checker.errors or normalised is None:
        raise InstrumentError(checker.errors[:MAX_ERRORS] or [_("The file is not a questionnaire definition.")])
    return scoring.definition_from_dict(normalised)
