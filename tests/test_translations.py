"""The Simplified Chinese catalogue is complete, placeholder-safe, and actually used by the pages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "app" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _source_messages() -> set[str]:
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue():
    with open(CATALOGUE, "rb") as f:
        return read_po(f)


def test_the_catalogue_lives_where_babel_looks_for_zh_cn():
    assert CATALOGUE.exists(), "Babel resolves zh_CN to zh_Hans_CN; a zh_CN/ folder would be ignored"


def test_every_message_in_the_code_has_a_chinese_translation():
    catalogue = _catalogue()
    missing = []
    for msgid in sorted(_source_messages()):
        message = catalogue.get(msgid)
        if message is None or message.fuzzy or not message.string or (
            isinstance(message.string, tuple) and not all(message.string)
        ):
            missing.append(msgid)
    assert not missing, f"{len(missing)} untranslated, e.g. {missing[:5]}"


def test_translations_keep_every_placeholder_of_the_source():
    broken = []
    for message in _catalogue():
        if not message.id or not message.string:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        if set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(target)):
            broken.append(source)
    assert not broken, broken[:5]


def test_a_page_in_chinese_shows_chinese_text(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "登录" in page
    assert "Log in" not in page
