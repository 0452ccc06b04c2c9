"""Translations of the chapters: one gettext catalog per chapter, translated notebooks built from them.

    python -m tools.i18n status [--check]   # per chapter: entries, translated, fuzzy, untranslated, obsolete
    python -m tools.i18n update [CHAPTER]   # merge the English paragraphs into the catalogs
    python -m tools.i18n build [CHAPTER]    # write notebooks/zh_CN/ from the English chapters + catalogs
    python -m tools.i18n extract            # the templates alone (locale/templates/*.pot, for PO editors)
    python -m tools.i18n sheet CHAPTER      # the catalog as a plain-text worksheet (no PO escaping) ...
    python -m tools.i18n fill CHAPTER SHEET # ... and back into the catalog

The English notebooks are the one source of code, outputs and figures. A catalog
(`locale/zh_CN/LC_MESSAGES/<chapter>.po`) holds one entry per markdown paragraph, its context the
cell's id (so reordering cells loses nothing). `update` keeps a translation whose English is
unchanged, marks one whose English changed *fuzzy* (the old English kept as `#| msgid`), and one
whose paragraph is gone *obsolete*. `build` copies the English notebook and replaces only the
paragraphs of its markdown cells, so code cells and their outputs stay byte-identical; a fuzzy or
untranslated paragraph stays English. `status --check` (run by the tests) fails on anything that
is not translated, on a catalog behind its chapter, on a translation that lost a code span, a
link, a formula or a number of its English, and on a built notebook that differs from `build`.
PO files are read and written by Babel (`babel.messages`), never parsed here.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from nstlib.errors import NSTError
from nstlib.install import LANGUAGES, ROOT, chapters

LANG = "zh_CN"
LOCALE = ROOT / "locale"
TEMPLATES = LOCALE / "templates"
PROJECT = "nst-course"

# A line that opens or closes a block in which blank lines do not end a paragraph.
_FENCE = re.compile(r"^\s*(```|~~~|\$\$)")
# What a translation must keep from its English: inline code, link targets, formulas, numbers.
_CODE = re.compile(r"`+[^`]+?`+")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.S)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
# "20 million" is 2000 万 in Chinese, "1.5 billion" 15 亿: either form keeps the number.
_LARGE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s+(million|billion)")
# A line break between two Chinese characters renders as a space in Jupyter's markdown.
_CJK_BREAK = re.compile(
    r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]\n[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]"
)
_RELATIVE = re.compile(r"(\]\()(?!https?:|#|mailto:)([^)\s]+)(\))")


# --- paragraphs -------------------------------------------------------------------------------


def _next_fence(fence: str | None, line: str) -> str | None:
    """The fence open after `line` (None: none), given the one open before it."""
    opener = _FENCE.match(line)
    if not opener:
        return fence
    token = opener.group(1)
    if fence is None:
        return None if token == "$$" and line.count("$$") >= 2 else token
    return None if fence == token else fence


def _lines(source: str) -> Iterator[tuple[str, bool]]:
    """Each line of `source` and whether it belongs to a paragraph (False: a blank line between them)."""
    fence = None
    for line in source.splitlines(keepends=True):
        if fence is None and not line.strip():
            yield line, False
            continue
        yield line, True
        fence = _next_fence(fence, line)


def segments(source: str) -> list[tuple[str, bool]]:
    """Split a markdown cell into (text, is_paragraph) pieces whose concatenation is `source`.

    Paragraphs are separated by blank lines, except inside fenced code or $$ display maths; a
    paragraph's last newline goes to the separator after it, so that entries end without one.
    """
    pieces: list[tuple[str, bool]] = []
    for is_par, group in groupby(_lines(source), key=lambda item: item[1]):
        text = "".join(line for line, _ in group)
        if is_par:
            body = text.rstrip("\n")
            pieces.append((body, True))
            text = text[len(body) :]
        if text and pieces and not pieces[-1][1]:
            pieces[-1] = (pieces[-1][0] + text, False)
        elif text:
            pieces.append((text, False))
    return pieces


def translatable(paragraph: str) -> bool:
    """Whether a paragraph has words to translate (not only a code block, a formula or symbols)."""
    text = paragraph.strip()
    if _FENCE.match(text) and _FENCE.match(text.splitlines()[-1]):
        return False
    return re.search(r"[A-Za-z]{2,}", _MATH.sub("", _CODE.sub("", text))) is not None


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def paragraphs(notebook: dict) -> Iterator[tuple[int, str, str]]:
    """(cell number, cell id, paragraph) for every translatable paragraph of the markdown cells."""
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for text, is_par in segments(_source(cell)):
            if is_par and translatable(text):
                yield number, cell["id"], text


# --- catalogs ---------------------------------------------------------------------------------


def catalog_path(chapter: Path, lang: str = LANG, locale: Path = LOCALE) -> Path:
    """Where `chapter`'s catalog for `lang` lives."""
    return locale / lang / "LC_MESSAGES" / f"{chapter.stem}.po"


def built_path(chapter: Path, lang: str = LANG) -> Path:
    """Where `chapter`'s translated notebook lives (notebooks/<lang>/, same file name)."""
    return chapter.parent / lang / chapter.name


def _new_catalog(chapter: Path, lang: str | None) -> Catalog:
    catalog = Catalog(locale=lang, domain=chapter.stem, project=PROJECT, version="1", fuzzy=False)
    catalog.msgid_bugs_address = ""
    catalog.copyright_holder = ""
    catalog.last_translator = "the course's translators"
    catalog.language_team = f"{PROJECT} {lang or ''}".strip()
    catalog.header_comment = f"# {chapter.name} in {lang or 'any language'}: see docs/contributing.md."
    return catalog


def template(chapter: Path) -> Catalog:
    """The English paragraphs of `chapter`, in order, as an untranslated catalog."""
    notebook = json.loads(chapter.read_text(encoding="utf-8"))
    catalog = _new_catalog(chapter, None)
    for number, cell_id, text in paragraphs(notebook):
        where = (f"notebooks/{chapter.name}", number)
        if catalog.get(text, cell_id) is not None:
            catalog.get(text, cell_id).locations.append(where)
            continue
        message = catalog.add(text, "", locations=[where], context=cell_id)
        message.flags.discard("python-format")  # "70% of" is prose, not a format string
    return catalog


def read_catalog(path: Path) -> Catalog:
    """A PO file, read by Babel (obsolete entries kept in `.obsolete`)."""
    with path.open("rb") as f:
        catalog = read_po(f, abort_invalid=True)
    for message in list(catalog) + list(catalog.obsolete.values()):
        message.flags.discard("python-format")  # Babel guesses it from "97.7% of": prose, not a format
    return catalog


def _po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, include_previous=True, include_lineno=True)
    return buffer.getvalue()


_DATE = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.M)


def write_catalog(path: Path, catalog: Catalog) -> bool:
    """Write `catalog` to `path` unless only its dates would change; True when written."""
    data = _po_bytes(catalog)
    if path.exists() and _DATE.sub(b"", path.read_bytes()) == _DATE.sub(b"", data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _carry(new: Message, old: Message, fuzzy: bool) -> None:
    """Give `new` the translation of `old` (fuzzy: marked for review, with the English it was made from)."""
    new.string = old.string
    new.flags |= old.flags - {"python-format"}
    new.user_comments = list(old.user_comments)
    if fuzzy:
        new.previous_id = [old.id]
        new.flags.add("fuzzy")


def _words(text: str) -> str:
    return " ".join(text.split())


def _closest(new: Message, olds: list[Message], pool: list[int], cutoff: float) -> int | None:
    """The index in `pool` of the old entry most like `new` (at least `cutoff` similar), or None."""
    best, score = None, cutoff
    for i in pool:
        ratio = difflib.SequenceMatcher(None, olds[i].id, new.id, autojunk=False).ratio()
        if ratio >= score:
            best, score = i, ratio
    return best


def merge(old: Catalog | None, fresh: Catalog, chapter: Path, lang: str = LANG) -> Catalog:
    """The template `fresh` with `old`'s translations carried over.

    Same English and cell: kept as it was. Same English in another cell (a moved paragraph), or the
    same words re-wrapped: kept.
    Changed English: the most similar free entry of the same cell (else a close one anywhere)
    lends its translation, marked fuzzy, its English kept as the previous msgid. Entries nobody
    took become obsolete.
    """
    merged = _new_catalog(chapter, lang)
    olds = [m for m in (old or []) if m.id]
    if old is not None:
        merged.creation_date, merged.revision_date = old.creation_date, old.revision_date
    taken: set[int] = set()
    pending = []
    for message in fresh:
        if not message.id:
            continue
        new = merged.add(message.id, "", locations=message.locations, context=message.context)
        new.flags.discard("python-format")
        same = [i for i, m in enumerate(olds) if m.id == new.id and m.context == new.context]
        same = same or [i for i, m in enumerate(olds) if m.id == new.id and m.string]
        # Re-wrapped English (line breaks moved, as markdown renders them: spaces) keeps its translation.
        same = same or [i for i, m in enumerate(olds) if _words(m.id) == _words(new.id) and m.string]
        if same:
            taken.add(same[0])
            _carry(new, olds[same[0]], fuzzy=False)
        else:
            pending.append(new)
    for new in pending:  # after every exact match, so a fuzzy one cannot take an exact one's entry
        free = [i for i, m in enumerate(olds) if i not in taken and m.string]
        i = _closest(new, olds, [j for j in free if olds[j].context == new.context], 0.0)
        i = i if i is not None else _closest(new, olds, free, 0.6)
        if i is not None:
            taken.add(i)
            _carry(new, olds[i], fuzzy=True)
    for i, m in enumerate(olds):
        if i not in taken and m.string:
            merged.obsolete[(m.id, m.context)] = m
    for key, m in old.obsolete.items() if old is not None else []:
        merged.obsolete.setdefault(key, m)
    return merged


def update(chapter: Path, lang: str = LANG, locale: Path = LOCALE) -> tuple[Path, bool]:
    """Merge `chapter`'s English paragraphs into its catalog; returns the file and whether it changed."""
    path = catalog_path(chapter, lang, locale)
    old = read_catalog(path) if path.exists() else None
    return path, write_catalog(path, merge(old, template(chapter), chapter, lang))


# --- building ---------------------------------------------------------------------------------


def _relink(text: str) -> str:
    """Relative links one folder deeper (notebooks/zh_CN/), except to sibling chapters."""

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.fullmatch(r"[0-9A]\w*\.ipynb(#.*)?", target):
            return m.group(0)
        return f"{m.group(1)}../{target}{m.group(3)}"

    # Links inside `code` are code, not links.
    parts = re.split(r"(`+[^`\n]*?`+)", text)
    return "".join(p if i % 2 else _RELATIVE.sub(fix, p) for i, p in enumerate(parts))


def translated_source(source: str, cell_id: str, catalog: Catalog) -> str:
    """A markdown cell's source with each translated paragraph replaced (fuzzy or missing: English)."""
    out = []
    for text, is_par in segments(source):
        if is_par and translatable(text):
            message = catalog.get(text, cell_id)
            if message is not None and message.string and not message.fuzzy:
                text = message.string
        out.append(_relink(text) if is_par and translatable(text) else text)  # a code block's (X) is code
    return "".join(out)


def dumps(notebook: dict) -> str:
    """A notebook's JSON as the course writes it (and JupyterLab keeps it)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def build_text(chapter: Path, catalog: Catalog) -> str:
    """The translated notebook of `chapter`: the English one with its markdown paragraphs replaced."""
    notebook = json.loads(chapter.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            source = translated_source(_source(cell), cell["id"], catalog)
            cell["source"] = source.splitlines(keepends=True)
    return dumps(notebook)


def build(chapter: Path, lang: str = LANG, locale: Path = LOCALE) -> tuple[Path, bool]:
    """Write `chapter`'s translated notebook; returns the file and whether it changed."""
    catalog = read_catalog(catalog_path(chapter, lang, locale))
    target = built_path(chapter, lang)
    text = build_text(chapter, catalog)
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target, True


def rebuild(paths: list[Path] | None = None, lang: str = LANG) -> None:
    """Rebuild the translated notebooks of `paths` (default: all) after their English ones changed."""
    for chapter in paths if paths is not None else chapters():
        if catalog_path(chapter, lang).exists():
            target, changed = build(chapter, lang)
            if changed:
                print(f"{_rel(target)}: rebuilt (python -m tools.i18n status --check: is its text current?)")


# --- checking ---------------------------------------------------------------------------------


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(_CODE.sub("", _MATH.sub("", text)))}


def lost(english: str, translation: str) -> list[str]:
    """What is wrong with a translation: each code span, link target, formula or number of the English it lost.

    Whitespace inside code and formulas is compared as one space (a line break there renders as one).
    """
    problems = []
    for name, pattern in (("code", _CODE), ("link", _LINK), ("formula", _MATH)):
        found = {" ".join(x.split()) for x in pattern.findall(translation)}
        for item in dict.fromkeys(" ".join(x.split()) for x in pattern.findall(english)):
            if item not in found:
                problems.append(f"lost {name} {item}")
    kept = _numbers(translation)
    for number, unit in _LARGE.findall(english):
        value = float(number.replace(",", "")) * (100 if unit == "million" else 10)
        if f"{value:g}" in kept:
            kept.add(number.replace(",", ""))
    problems += [f"lost number {n}" for n in sorted(_numbers(english) - kept)]
    if _CJK_BREAK.search(translation):
        problems.append("breaks a line between Chinese characters (it shows as a space): join the lines")
    return problems


def _rel(path: Path) -> str:
    """`path` from the repository's root when inside it (a test's temporary copy is not)."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _where(chapter: Path, message: Message) -> str:
    first = message.id.strip().splitlines()[0][:60]
    return f"{chapter.name}, cell {message.context}: {first!r}"


@dataclass
class Status:
    """How one chapter's translation stands: its entries, and each problem by kind."""

    chapter: Path
    entries: int = 0
    translated: int = 0
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("fuzzy", "untranslated", "obsolete", "not in catalog", "lost", "build"), 0
        )
    )

    def add(self, kind: str, where: str, text: str) -> None:
        """Count a problem of `kind` and keep its line."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.problems.append(f"{where}: {text}")


def _entry_problems(message: Message) -> list[tuple[str, str]]:
    """(kind, text) for what is wrong with one catalog entry."""
    if message.fuzzy:
        return [("fuzzy", "fuzzy (its English changed): check the translation")]
    if not message.string:
        return [("untranslated", "untranslated")]
    return [("lost", f"the translation {item}") for item in lost(message.id, message.string)]


def status(chapter: Path, lang: str = LANG, locale: Path = LOCALE) -> Status:
    """Count and name every problem of `chapter`'s translation."""
    st = Status(chapter)
    path = catalog_path(chapter, lang, locale)
    if not path.exists():
        st.add("not in catalog", chapter.name, f"no catalog {_rel(path)}: run python -m tools.i18n update")
        return st
    catalog = read_catalog(path)
    fresh = template(chapter)
    for message in fresh:
        if message.id and catalog.get(message.id, message.context) is None:
            st.add(
                "not in catalog",
                _where(chapter, message),
                "not in the catalog: run python -m tools.i18n update",
            )
    for message in (m for m in catalog if m.id):
        st.entries += 1
        problems = _entry_problems(message)
        st.translated += not problems or problems[0][0] == "lost"
        for kind, text in problems:
            st.add(kind, _where(chapter, message), text)
        if fresh.get(message.id, message.context) is None:
            st.problems.append(
                f"{_where(chapter, message)}: gone from the chapter: run python -m tools.i18n update"
            )
    for message in catalog.obsolete.values():
        st.add(
            "obsolete",
            _where(chapter, message),
            f"obsolete: delete it from {path.name} once its text is reused",
        )
    target = built_path(chapter, lang)
    if not target.exists() or target.read_text(encoding="utf-8") != build_text(chapter, catalog):
        st.add("build", _rel(target), "differs from what `python -m tools.i18n build` writes")
    return st


# --- plain-text worksheets --------------------------------------------------------------------

_MARK = "@@@"


def sheet(chapter: Path, lang: str = LANG, locale: Path = LOCALE, only_missing: bool = False) -> str:
    """The catalog as text: each English paragraph, then its translation (empty: to do)."""
    catalog = read_catalog(catalog_path(chapter, lang, locale))
    parts = [
        f"# {chapter.name} -> {lang}: write each translation between its {lang} mark and its end mark.\n"
    ]
    for message in catalog:
        if not message.id or (only_missing and message.string and not message.fuzzy):
            continue
        parts.append(f"{_MARK} {message.context} {_MARK}\n{message.id}\n{_MARK} {lang} {_MARK}\n")
        parts.append(
            f"{message.string}\n{_MARK} end {_MARK}\n" if message.string else f"{_MARK} end {_MARK}\n"
        )
    return "\n".join(parts)


_ENTRY = re.compile(
    rf"^{_MARK} (\S+) {_MARK}\n(.*?)\n{_MARK} (\w+) {_MARK}\n(.*?){_MARK} end {_MARK}$", re.S | re.M
)


def fill(chapter: Path, text: str, lang: str = LANG, locale: Path = LOCALE) -> tuple[int, list[str]]:
    """Put a worksheet's translations into the catalog (no longer fuzzy); returns (filled, errors)."""
    path = catalog_path(chapter, lang, locale)
    catalog = read_catalog(path)
    filled, errors = 0, []
    for cell_id, english, sheet_lang, translation in _ENTRY.findall(text):
        translation = translation.strip("\n")
        message = catalog.get(english, cell_id)
        if sheet_lang != lang:
            errors.append(f"cell {cell_id}: the sheet is for {sheet_lang}, not {lang}")
        elif message is None:
            errors.append(
                f"cell {cell_id}: {english[:50]!r} is not in {path.name} (changed since the sheet?)"
            )
        elif translation.strip() and (translation != message.string or message.fuzzy):
            message.string = translation.rstrip()
            message.flags.discard("fuzzy")
            message.previous_id = []
            filled += 1
    if filled:
        catalog.revision_date = datetime.now(timezone.utc)
    write_catalog(path, catalog)
    return filled, errors


# --- command line -----------------------------------------------------------------------------


def _chapters(names: list[str] | None) -> list[Path]:
    if not names:
        return chapters()
    from nstlib.course import find_chapter

    return [find_chapter(n) for n in names]


def _extract(args: argparse.Namespace) -> int:
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    for chapter in _chapters(args.chapters):
        target = TEMPLATES / f"{chapter.stem}.pot"
        catalog = template(chapter)
        target.write_bytes(_po_bytes(catalog))
        print(f"{_rel(target)}: {len(catalog)} paragraphs")
    return 0


def _update(args: argparse.Namespace) -> int:
    for chapter in _chapters(args.chapters):
        path, changed = update(chapter, args.lang)
        print(f"{_rel(path)}: {'updated' if changed else 'up to date'}")
    return 0


def _build(args: argparse.Namespace) -> int:
    for chapter in _chapters(args.chapters):
        path, changed = build(chapter, args.lang)
        print(f"{_rel(path)}: {'written' if changed else 'up to date'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    failed = False
    print(f"{'chapter':28} entries translated fuzzy untranslated obsolete lost build")
    for chapter in _chapters(args.chapters):
        st = status(chapter, args.lang)
        c = st.counts
        print(
            f"{chapter.stem:28} {st.entries:7} {st.translated:10} {c['fuzzy']:5} {c['untranslated']:12} "
            f"{c['obsolete']:8} {c['lost']:4} {'stale' if c['build'] else 'ok'}"
        )
        if args.check and st.problems:
            failed = True
            print("\n".join(f"  {line}" for line in st.problems))
    return 1 if failed else 0


def _sheet(args: argparse.Namespace) -> int:
    sys.stdout.write(sheet(_chapters([args.chapter])[0], args.lang, only_missing=args.missing))
    return 0


def _fill(args: argparse.Namespace) -> int:
    chapter = _chapters([args.chapter])[0]
    if not args.sheet.is_file():
        raise NSTError(
            f"{args.sheet}: no such worksheet; write one with python -m tools.i18n sheet {args.chapter}"
        )
    filled, errors = fill(chapter, args.sheet.read_text(encoding="utf-8"), args.lang)
    for line in errors:
        print(f"{args.sheet}: {line}", file=sys.stderr)
    print(f"{_rel(catalog_path(chapter, args.lang))}: {filled} translations filled")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    """The `python -m tools.i18n` commands; a bad chapter name or file is one line on stderr."""
    p = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__.split("\n")[0])
    p.add_argument("--lang", default=LANG, choices=LANGUAGES)
    sub = p.add_subparsers(dest="command", required=True)
    for name, run in (("extract", _extract), ("update", _update), ("build", _build), ("status", _status)):
        c = sub.add_parser(name)
        c.add_argument(
            "chapters", nargs="*", metavar="CHAPTER", help="number, appendix or file name (default: all)"
        )
        c.set_defaults(run=run)
        if name == "status":
            c.add_argument("--check", action="store_true", help="list every problem; exit 1 if any")
    c = sub.add_parser("sheet", help="the catalog as plain text, to translate in any editor")
    c.add_argument("chapter")
    c.add_argument("--missing", action="store_true", help="only entries untranslated or fuzzy")
    c.set_defaults(run=_sheet)
    c = sub.add_parser("fill", help="a worksheet's translations into the catalog")
    c.add_argument("chapter")
    c.add_argument("sheet", type=Path)
    c.set_defaults(run=_fill)
    args = p.parse_args(argv)
    try:
        return args.run(args)
    except NSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
