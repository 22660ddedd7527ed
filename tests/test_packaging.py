"""The installed package carries every template (a regular, non-editable install included)."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_template_folder_is_listed_in_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["package-data"]["drgen.patterns"])

    folders = {
        path.parent.relative_to(ROOT / "patterns").as_posix()
        for path in (ROOT / "patterns").rglob("*.j2")
    }

    assert {"*.j2" if f == "." else f"{f}/*.j2" for f in folders} == listed
