"""The Chinese edition: catalogs complete and current, notebooks as `build` writes them, code identical.

Every check reads files only (no notebook runs): about a second for all twelve chapters.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from nstlib.install import LANGUAGES, NOTEBOOKS, ROOT, chapters
from tools import i18n

CHAPTERS = chapters()
NAMES = [c.stem for c in CHAPTERS]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_catalog_is_complete_current_and_built(chapter):
    """0 untranslated, 0 fuzzy, 0 obsolete, nothing lost, the notebook as `build` writes it."""
    st = i18n.status(chapter)
    assert st.entries > 0 and st.translated == st.entries
    assert not st.problems, "\n".join(
        st.problems
        + ["fix: python -m tools.i18n update, translate, python -m tools.i18n build (docs/contributing.md)"]
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_translated_code_and_outputs_are_the_english_ones(chapter):
    """Same cells, ids and metadata; every code cell (source, outputs, counts) identical; only markdown differs."""
    english = json.loads(chapter.read_text(encoding="utf-8"))
    chinese = json.loads(i18n.built_path(chapter).read_text(encoding="utf-8"))
    assert chinese["metadata"] == english["metadata"]
    assert [(c["id"], c["cell_type"]) for c in chinese["cells"]] == [
        (c["id"], c["cell_type"]) for c in english["cells"]
    ]
    translated = 0
    for zh, en in zip(chinese["cells"], english["cells"]):
        if en["cell_type"] == "code":
            assert zh == en, (
                f"{chapter.name}, cell {en['id']}: the Chinese code cell differs from the English"
            )
        else:
            assert zh["metadata"] == en["metadata"]
            translated += zh["source"] != en["source"]
    markdown = sum(c["cell_type"] == "markdown" for c in english["cells"])
    assert translated == markdown  # every markdown cell has Chinese in it


def test_every_edition_has_every_chapter():
    assert LANGUAGES == ("zh_CN",)
    assert [p.name for p in chapters("zh_CN")] == [p.name for p in CHAPTERS]
    catalogs = sorted((ROOT / "locale" / "zh_CN" / "LC_MESSAGES").glob("*.po"))
    assert [p.stem for p in catalogs] == sorted(NAMES)


def test_segments_split_at_blank_lines_outside_fences_and_rebuild_the_cell():
    source = "# Title\n\nOne line\nand two.\n\n\n```python\nx = 1\n\ny = 2\n```\n\n$$\na\n\nb\n$$\n- item\n- other\n"
    pieces = i18n.segments(source)
    assert "".join(text for text, _ in pieces) == source
    paragraphs = [text for text, is_par in pieces if is_par]
    assert paragraphs == [
        "# Title",
        "One line\nand two.",
        "```python\nx = 1\n\ny = 2\n```",
        "$$\na\n\nb\n$$\n- item\n- other",
    ]
    assert [i18n.translatable(p) for p in paragraphs] == [True, True, False, True]
    assert not i18n.translatable("$$x^2$$") and not i18n.translatable("`a`, `b`")


def test_lost_names_what_a_translation_dropped():
    english = (
        "Run `python -m nstlib` at 512 px ([speed](../docs/speed.md)); the loss is $\\alpha L$, 1,000 steps."
    )
    good = "以 512 像素运行 `python -m nstlib`（[速度](../docs/speed.md)）；损失为 $\\alpha L$，共 1000 步。"
    assert i18n.lost(english, good) == []
    bad = "运行 nstlib（[速度](speed.md)）；损失为 αL，共 100 步。"
    assert i18n.lost(english, bad) == [
        "lost code `python -m nstlib`",
        "lost link ../docs/speed.md",
        "lost formula $\\alpha L$",
        "lost number 1000",
        "lost number 512",
    ]
    # "20 million" may become 2000 万; a code span may break a line; Chinese lines must not break.
    assert i18n.lost("`a b` has 20 million", "`a\nb` 有 2000 万") == []
    assert i18n.lost("Two lines.", "两行\n文字。") == [
        "breaks a line between Chinese characters (it shows as a space): join the lines"
    ]


def _chapter(tmp: Path, paragraphs_by_cell: dict[str, list[str]]) -> Path:
    cells = [
        {"cell_type": "markdown", "id": cid, "metadata": {}, "source": "\n\n".join(pars)}
        for cid, pars in paragraphs_by_cell.items()
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp / "notebooks" / "01_test.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def test_merge_keeps_moves_fuzzies_and_obsoletes(tmp_path):
    """Unchanged or re-wrapped: kept. Moved to another cell: kept. Edited: fuzzy, old English kept. Removed: obsolete."""
    before = _chapter(tmp_path, {"a": ["Keep me.", "Edit me, please."], "b": ["Move me.", "Remove me."]})
    old = i18n.merge(None, i18n.template(before), before)
    for message, zh in zip(list(old)[1:], ["留下我。", "请修改我。", "移动我。", "删除我。"]):
        message.string = zh
    after = _chapter(tmp_path, {"a": ["Keep\nme.", "Edit me, please, now."], "c": ["Move me."]})
    merged = i18n.merge(old, i18n.template(after), after)
    kept = merged.get("Keep\nme.", "a")  # re-wrapped: the same words, the same translation
    assert kept.string == "留下我。" and not kept.fuzzy
    assert merged.get("Move me.", "c").string == "移动我。" and not merged.get("Move me.", "c").fuzzy
    edited = merged.get("Edit me, please, now.", "a")
    assert edited.fuzzy and edited.string == "请修改我。" and edited.previous_id == ["Edit me, please."]
    assert [m.id for m in merged.obsolete.values()] == ["Remove me."]


def _copy_edition(chapter: Path, tmp: Path) -> Path:
    """A temporary course with one real chapter, its catalog and its built notebook."""
    copy = tmp / "notebooks" / chapter.name
    (tmp / "notebooks" / "zh_CN").mkdir(parents=True)
    shutil.copy(chapter, copy)
    shutil.copy(i18n.built_path(chapter), tmp / "notebooks" / "zh_CN" / chapter.name)
    catalog = i18n.catalog_path(chapter, locale=tmp / "locale")
    catalog.parent.mkdir(parents=True)
    shutil.copy(i18n.catalog_path(chapter), catalog)
    return copy


def test_editing_an_english_paragraph_fails_until_its_translation_is_updated(tmp_path):
    """CI's check, on a temporary copy of chapter A2: edit one English sentence, see it fail, fix it, pass."""
    chapter = _copy_edition(NOTEBOOKS / "A2_beyond_one_machine.ipynb", tmp_path)
    locale = tmp_path / "locale"
    assert i18n.status(chapter, locale=locale).problems == []

    nb = json.loads(chapter.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown" and len("".join(c["source"])) > 200)
    english = "".join(cell["source"])
    first = next(text for text, is_par in i18n.segments(english) if is_par and i18n.translatable(text))
    edited = first + " Two processes are enough to test it."
    cell["source"] = english.replace(first, edited, 1)
    chapter.write_text(i18n.dumps(nb), encoding="utf-8")

    problems = i18n.status(chapter, locale=locale).problems
    assert any(f"cell {cell['id']}" in p and "not in the catalog" in p for p in problems)
    assert any("differs from what" in p for p in problems)  # the Chinese notebook is behind too

    i18n.update(chapter, locale=locale)
    problems = i18n.status(chapter, locale=locale).problems
    assert any(f"cell {cell['id']}" in p and "fuzzy" in p for p in problems), problems
    fuzzy = i18n.read_catalog(i18n.catalog_path(chapter, locale=locale)).get(edited, cell["id"])
    assert fuzzy.string  # the old translation, to revise
    # ... and the English it was made from, as `#| msgid` (Babel writes it but does not read it back)
    po = i18n.catalog_path(chapter, locale=locale).read_text(encoding="utf-8")
    assert "#| msgid " in po and first.splitlines()[0].split()[-1] in po.split("#| msgid ", 1)[1][:300]

    sheet = i18n.sheet(chapter, locale=locale, only_missing=True)
    assert sheet.count("@@@ end @@@") == 1
    revised = sheet.replace(
        f"{fuzzy.string}\n@@@ end @@@", f"{fuzzy.string}两个进程就足以测试它。\n@@@ end @@@"
    )
    filled, errors = i18n.fill(chapter, revised, locale=locale)
    assert (filled, errors) == (1, [])
    assert any("differs from what" in p for p in i18n.status(chapter, locale=locale).problems)
    i18n.build(chapter, locale=locale)
    assert i18n.status(chapter, locale=locale).problems == []
    built = json.loads(i18n.built_path(chapter).read_text(encoding="utf-8"))
    assert "两个进程就足以测试它。" in "".join(
        next(c for c in built["cells"] if c["id"] == cell["id"])["source"]
    )


def _avoided_terms() -> list[str]:
    text = (ROOT / "docs" / "zh_CN" / "glossary.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("|") and "---" not in line]
    avoided = [v.strip() for row in rows[1:] for v in row[2].split(",") if v.strip()]
    assert len(rows) > 60 and len(avoided) > 15  # the table was parsed
    return avoided


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_translations_use_the_glossary_terms(chapter):
    avoided = _avoided_terms()
    catalog = i18n.read_catalog(i18n.catalog_path(chapter))
    found = [
        f"cell {m.context}: {term!r} (docs/zh_CN/glossary.md)"
        for m in catalog
        if m.id and m.string
        for term in avoided
        if term in m.string
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_links_of_the_translated_notebooks_resolve(chapter):
    built = i18n.built_path(chapter)
    nb = json.loads(built.read_text(encoding="utf-8"))
    broken = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        paragraphs = [t for t, is_par in i18n.segments("".join(cell["source"])) if is_par and i18n.translatable(t)]
        text = re.sub(r"`+[^`\n]*?`+", "", "\n\n".join(paragraphs))  # fenced code is code, not links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if (
                not re.match(r"https?:|#|mailto:", target)
                and not (built.parent / target.split("#")[0]).exists()
            ):
                broken.append(f"cell {cell['id']}: {target}")
    assert not broken, "\n".join(broken)


def test_status_command_reports_every_chapter_clean(capsys):
    assert i18n.main(["status", "--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(CHAPTERS) and all(line.rstrip().endswith("ok") for line in lines[1:])


def test_readmes_link_each_other_and_every_chinese_chapter():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh_CN.md").read_text(encoding="utf-8")
    assert "README.zh_CN.md" in "\n".join(english.splitlines()[:5])
    assert "(README.md)" in "\n".join(chinese.splitlines()[:5])
    for chapter in CHAPTERS:
        assert f"(notebooks/zh_CN/{chapter.name})" in chinese
        assert f"blob/main/notebooks/zh_CN/{chapter.name})" in chinese  # its own Colab link
    # The quick start's commands are the English README's, unchanged, and the workspace has its own.
    commands = re.findall(r"```bash\n(.*?)```", english, re.S)
    chinese_commands = re.findall(r"```bash\n(.*?)```", chinese, re.S)
    assert commands and all(c in chinese_commands for c in commands if "course workspace" not in c)
    assert "python -m nstlib.course workspace --lang zh_CN && jupyter lab workspace/zh_CN/\n" in chinese_commands


def test_catalog_files_are_what_babel_writes():
    """A hand edit that breaks the PO syntax or the layout fails here with the file named."""
    for chapter in CHAPTERS:
        path = i18n.catalog_path(chapter)
        catalog = i18n.read_catalog(path)
        assert isinstance(catalog, Catalog) and catalog.locale_identifier == "zh_CN", path
        assert i18n._po_bytes(catalog) == path.read_bytes(), (
            f"{path}: rewrite it with python -m tools.i18n update"
        )
