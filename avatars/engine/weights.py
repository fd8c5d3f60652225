"""The one door to bundled model weights: a file is opened only when models.md says a paid
product may use it.

Every operator of this product charges money, so a weights file whose licence excludes
commercial use must never load, however convenient. models.md is the record (file, package,
licence and where it is stated); this module reads its table and refuses anything else.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

MODELS_LIST = Path(__file__).with_name("models.md")
# Where files the engine derives from listed ones (converted weights) are kept: the XDG cache
# folder, or LIKENESS_WEIGHTS_CACHE where the operator names another.
CACHE_VARIABLE = "LIKENESS_WEIGHTS_CACHE"


class UnlicensedWeightsError(RuntimeError):
    """A weights file that is not on models.md, or that models.md marks unfit for commercial use."""


@functools.cache
def commercial_use_by_file() -> dict[str, bool]:
    """Each listed file and whether its licence allows commercial use, read from models.md's table."""
    listed = {}
    for line in MODELS_LIST.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        listed[cells[0].strip("`")] = cells[3].split()[0].lower() == "yes"
    return listed


def _require_commercial_use(name: str) -> None:
    allowed = commercial_use_by_file().get(name)
    if allowed is None:
        raise UnlicensedWeightsError(f"{name} is not on {MODELS_LIST.name}: list it with its licence before loading it.")
    if not allowed:
        raise UnlicensedWeightsError(f"{name}'s licence excludes commercial use ({MODELS_LIST.name}): it may not load.")


def licensed_weights(package: str, name: str) -> str:
    """The path of the weights file `name` shipped inside `package`, once models.md allows it."""
    _require_commercial_use(name)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed: the engine needs its {name}.")
    folder = Path(next(iter(spec.submodule_search_locations)))
    # The package's own *_location() helpers import pkg_resources, which current setuptools
    # no longer ships; the weights are plain files inside the package.
    for path in (folder / name, folder / "models" / name):
        if path.is_file():
            return str(path)
    raise RuntimeError(f"The model file {name} is missing from {package}.")


def derived_weights_path(name: str) -> Path:
    """Where the engine keeps `name`, a weights file it derives from a listed one (models.md
    lists the derived file too, with the licence of its source), once models.md allows it."""
    _require_commercial_use(name)
    folder = os.environ.get(CACHE_VARIABLE) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "likeness"
    return Path(folder) / name
