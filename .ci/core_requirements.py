"""Print the requirements of an environment for ``tests/core`` WITHOUT PySide6: the project's
dependencies and its test extra from pyproject.toml, minus Qt and pytest-qt (used by .ci/run)."""

import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
QT = ("pyside6", "shiboken6", "pytest-qt")
for req in project["dependencies"] + project["optional-dependencies"]["test"]:
    if not req.lower().replace("_", "-").startswith(QT):
        print(req)
