"""The README and docs/ pages: every relative link resolves to a file (and a heading, for
an anchor into a Markdown page), and the README stays one screenful per idea."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 220
# Pages other helpers are writing at the same time; the lead removes each name here once
# its page has landed, so that a link to it is checked like any other.
PENDING_PAGES: set[str] = set()  # pages linked before they exist (none now)
# docs pages whose README link a helper could not add (the README is the lead's); the lead
# removes each name here when adding its link
PENDING_README_LINKS: set[str] = set()

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def pages() -> list[Path]:
    """The Markdown pages a reader follows: the README, docs/ and the results' READMEs."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted((ROOT / "benchmarks" / "results").rglob("README.md"))]


def prose(text: str) -> str:
    """`text` without fenced code blocks and inline code, where brackets are not links."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(lines)


def relative_links(page: Path) -> list[str]:
    """Link targets of `page` that point into the repository (not URLs or mail)."""
    targets = LINK.findall(prose(page.read_text()))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, code marks and punctuation dropped,
    spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of `page`'s headings (a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in page.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        match = None if fenced else re.match(r"^#{1,6} (.*)$", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` whose file (or heading) does not exist."""
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if file.is_relative_to(ROOT) and file.relative_to(ROOT).as_posix() in PENDING_PAGES:
            continue
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    return broken


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / t.partition("#")[0]).resolve()
              for t in relative_links(ROOT / "README.md")}
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p not in linked]
    assert sorted(set(unlinked) - PENDING_README_LINKS) == []


def test_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail to docs/")


def test_the_checker_finds_a_broken_link_and_a_missing_heading(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## Some `code` here, too\n")
    page.write_text("[a](other.md) [b](missing.md) [c](other.md#some-code-here-too)\n"
                    "[d](other.md#nope) [e](https://example.com/x) `[f](ignored.md)`\n"
                    "```\n[g](in-a-fence.md)\n```\n")
    assert [t for t in relative_links(page)] == [
        "other.md", "missing.md", "other.md#some-code-here-too", "other.md#nope"]
    assert broken_links(page) == [
        "missing.md (no such file)", "other.md#nope (no heading #nope in other.md)"]
