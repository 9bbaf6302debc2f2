"""The source tree keeps the shape docs/architecture.md draws."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "lamina"
MOST_LINES = 500


def test_no_python_module_is_over_500_lines() -> None:
    """A module that outgrows this holds more than one thing: split it by what it holds."""
    long = {
        str(path.relative_to(SRC)): lines
        for path in SRC.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MOST_LINES
    }
    assert not long, long


def test_every_package_is_drawn_in_the_architecture_document() -> None:
    drawing = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    packages = sorted(
        str(path.parent.relative_to(SRC)) + "/"
        for path in SRC.rglob("__init__.py")
        if path.parent != SRC
    )
    missing = [package for package in packages if package not in drawing]
    assert not missing, missing
