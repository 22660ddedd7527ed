"""The installed package carries every template (a regular, non-editable install included)."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_template_folder_is_listed_in_package_data() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]

    folders = {
        path.parent.relative_to(ROOT / "patterns").as_posix()
        for path in (ROOT / "patterns").rglob("*.j2")
    }

    for folder in folders:
        package = "drgen.patterns" + ("" if folder == "." else "." + folder.replace("/", "."))
        assert package in setuptools["packages"], package
        assert "*.j2" in setuptools["package-data"][package], package


def test_the_figures_file_ships_with_the_templates() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]

    assert "figures.yaml" in setuptools["package-data"]["drgen.patterns"]
    assert (ROOT / "patterns" / "figures.yaml").is_file()
