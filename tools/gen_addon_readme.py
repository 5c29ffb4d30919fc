#!/usr/bin/env python3
"""Build each addon's README.rst from its readme/*.md fragments (OCA layout).

Usage: python3 tools/gen_addon_readme.py [addon ...]   (default: every addon)

The fragments use a small Markdown subset (paragraphs, lists, **bold**,
`code`, fenced code blocks); this converts it to reStructuredText.
"""

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECTIONS = [
    ("DESCRIPTION.md", None),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("ROADMAP.md", "Known issues / Roadmap"),
    ("CONTRIBUTORS.md", "Contributors"),
]


LIST_ITEM = re.compile(r"^(\s*)(?:[-*]|\d+\.)\s")


def md_to_rst(text):
    out = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = re.match(r"^(\s*)```(\w*)\s*$", line)
        if fence:
            indent, language = fence.groups()
            out.append(f"{indent}.. code-block:: {language or 'text'}")
            out.append("")
            index += 1
            while index < len(lines) and not lines[index].strip().startswith("```"):
                body = lines[index][len(indent) :] if lines[index].strip() else ""
                out.append(f"{indent}   {body}" if body else "")
                index += 1
            index += 1
            continue
        # `code` -> ``code`` (leave ``already double`` alone)
        line = re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", line)
        item = LIST_ITEM.match(line)
        previous = out[-1] if out else ""
        previous_item = LIST_ITEM.match(previous)
        if (
            item
            and previous.strip()
            and (not previous_item or item.group(1) != previous_item.group(1))
        ):
            # a list after a paragraph, or a nested list, starts after a
            # blank line in reStructuredText
            out.append("")
        out.append(line)
        index += 1
    return "\n".join(out).strip() + "\n"


def build(addon_dir):
    manifest = ast.literal_eval((addon_dir / "__manifest__.py").read_text())
    title = manifest["name"]
    parts = [
        "=" * len(title),
        title,
        "=" * len(title),
        "",
        f"*{manifest['summary']}*",
        "",
        f"Version {manifest['version']}, license {manifest['license']}, "
        f"by {manifest['author']}.",
        "",
    ]
    for filename, heading in SECTIONS:
        fragment = addon_dir / "readme" / filename
        if not fragment.exists():
            continue
        if heading:
            parts += [heading, "=" * len(heading), ""]
        parts.append(md_to_rst(fragment.read_text()))
    (addon_dir / "README.rst").write_text("\n".join(parts))


def main(names):
    addons = REPO / "addons"
    dirs = (
        [addons / name for name in names]
        if names
        else sorted(p.parent for p in addons.glob("*/__manifest__.py"))
    )
    for addon_dir in dirs:
        build(addon_dir)
        print(f"wrote {addon_dir.relative_to(REPO)}/README.rst")


if __name__ == "__main__":
    main(sys.argv[1:])
