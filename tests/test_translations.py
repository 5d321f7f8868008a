"""The Indonesian translation: complete, compiled, and kept complete as the code changes.

The checks read ``locale/id/LC_MESSAGES/django.po`` with a small parser and compare it with
what Python's ``gettext`` reads from the committed ``.mo``, so they need no gettext tools;
the check that no new string is missing from the catalogue runs ``makemessages`` (which
needs GNU gettext) into a temporary copy and is skipped where gettext is not installed.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_FILE = LOCALE_DIR / "id" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")
# Where blastadmin's translatable strings live (makemessages reads them from a copy).
SOURCE_DIRS = ("blastadmin", "campaigns", "templates")
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%")
FIELD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$")


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None
    msgstrs: list[str]
    context: str | None
    fuzzy: bool
    obsolete: bool


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (the header, msgid "", included)."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        fuzzy = obsolete = False
        for line in block.splitlines():
            if line.startswith("#~"):
                obsolete = True
                continue
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if line.startswith("#"):
                continue
            match = FIELD.match(line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            else:
                fields[current] += ast.literal_eval(line)
        if "msgid" not in fields:
            continue
        msgstrs = [fields[key] for key in sorted(fields) if key.startswith("msgstr")]
        entries.append(
            Entry(
                msgid=fields["msgid"],
                msgid_plural=fields.get("msgid_plural"),
                msgstrs=msgstrs,
                context=fields.get("msgctxt"),
                fuzzy=fuzzy,
                obsolete=obsolete,
            )
        )
    return entries


def messages(path: Path) -> list[Entry]:
    return [entry for entry in read_po(path) if entry.msgid and not entry.obsolete]


def placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text))


def test_the_catalogue_declares_indonesian_with_its_single_plural_form() -> None:
    header = next(entry for entry in read_po(PO_FILE) if entry.msgid == "").msgstrs[0]

    assert "Language: id\n" in header
    assert "Plural-Forms: nplurals=1; plural=0;\n" in header
    assert "charset=UTF-8" in header


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = messages(PO_FILE)

    assert len(entries) > 400
    assert [e.msgid for e in entries if e.fuzzy] == []
    assert [e.msgid for e in entries if not all(s.strip() for s in e.msgstrs)] == []
    # Indonesian has one plural form.
    assert [e.msgid for e in entries if e.msgid_plural and len(e.msgstrs) != 1] == []


def test_translations_keep_every_placeholder() -> None:
    broken = [
        (entry.msgid, text)
        for entry in messages(PO_FILE)
        for text in entry.msgstrs
        if placeholders(text) != placeholders(entry.msgid_plural or entry.msgid)
    ]

    assert broken == []


def test_the_committed_mo_file_says_what_the_po_file_says() -> None:
    with MO_FILE.open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)

    stale = []
    for entry in messages(PO_FILE):
        if entry.msgid_plural is not None:
            shown = catalogue.ngettext(entry.msgid, entry.msgid_plural, 2)
        elif entry.context is not None:
            shown = catalogue.pgettext(entry.context, entry.msgid)
        else:
            shown = catalogue.gettext(entry.msgid)
        if shown != entry.msgstrs[0]:
            stale.append(entry.msgid)

    assert stale == [], "run: manage.py compilemessages -l id --ignore=.venv"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_no_string_in_the_code_is_missing_from_the_catalogue(
    tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # makemessages writes into the locale directory beside the code it reads, so it reads a
    # copy of the code here: the real catalogue is never touched.
    source = tmp_path / "source"
    for part in SOURCE_DIRS:
        shutil.copytree(
            Path(settings.BASE_DIR) / part,
            source / part,
            ignore=shutil.ignore_patterns("__pycache__", "static"),
        )
    copy = source / "locale" / "id" / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    shutil.copy(PO_FILE, copy)
    settings.LOCALE_PATHS = [source / "locale"]
    monkeypatch.chdir(source)

    call_command("makemessages", locale=["id"], verbosity=0)

    known = {(e.context, e.msgid) for e in messages(PO_FILE)}
    extracted = {(e.context, e.msgid) for e in messages(copy)}
    missing = sorted(msgid for _context, msgid in extracted - known)
    assert len(extracted) > 400
    assert missing == [], (
        "new strings: run makemessages -l id (see README), translate them, compilemessages"
    )
