"""Every module of the project opens with a docstring whose first line says the one thing it holds."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The site's packages, its benches and its tests: everything written by hand here.
FOLDERS = ("accounts", "orders", "avatars", "styles", "portrait_site", "bench", "tests")


def project_modules() -> list[Path]:
    modules = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            # Migrations are written by makemigrations; an empty __init__.py only marks a package.
            if "migrations" in path.parts or (path.name == "__init__.py" and not path.read_text().strip()):
                continue
            modules.append(path)
    return modules


def opening_line(path: Path) -> str | None:
    docstring = ast.get_docstring(ast.parse(path.read_text(), filename=str(path)), clean=False)
    if docstring is None:
        return None
    return docstring.split("\n", 1)[0].strip()


def test_the_walk_finds_the_projects_modules():
    found = {path.relative_to(ROOT).as_posix() for path in project_modules()}
    assert {"avatars/engine/rendering.py", "portrait_site/settings/base.py", "tests/conftest.py"} <= found
    assert not any("/migrations/" in name for name in found)


def test_every_module_opens_with_a_line_that_says_what_it_holds():
    without = [
        path.relative_to(ROOT).as_posix()
        for path in project_modules()
        if not opening_line(path)
    ]
    assert without == [], f"modules with no docstring, or one whose first line is blank: {without}"
