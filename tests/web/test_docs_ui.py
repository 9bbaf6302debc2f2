"""docs/ui.md cannot drift from the pages: every page address is in it."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from lamina.web.pages import build_routes
from lamina.web.pages.render import load_assets, static_route

DOC = Path(__file__).resolve().parents[2] / "docs" / "ui.md"


def test_every_page_address_is_documented() -> None:
    text = DOC.read_text()
    for route in build_routes(static_route(load_assets())):
        assert isinstance(route, Route)
        path = route.path.replace(":path}", "}")
        if path in ("/static/{name}", "/favicon.ico"):
            continue
        assert f"`{path}`" in text, f"{path} is not in docs/ui.md"


def test_the_screenshots_it_shows_exist() -> None:
    text = DOC.read_text()
    for name in ("sessions-light", "session-light", "trace-light", "empty-light"):
        assert f"screenshots/{name}.png" in text
        assert (DOC.parent / "screenshots" / f"{name}.png").is_file()
