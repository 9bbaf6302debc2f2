"""Templates and the small formatting filters the pages use.

Jinja autoescapes everything: whatever an application sent (names, inputs,
outputs, attributes) reaches the page as text. The few filters that build
markup (``when``) escape their input themselves and return ``Markup``.
Static files are served from memory with a content hash in their URL, so a
browser caches them for good and still sees a new release at once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina import formatting as fmt
from lamina.query import present
from lamina.web.pages.comments import linkify

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
TZ_COOKIE = "lamina_tz"


# -- times ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def viewer_zone(request: Request) -> tzinfo:
    """The viewer's time zone, from the cookie the pages' script sets; UTC until then."""
    name = unquote(request.cookies.get(TZ_COOKIE, ""))[:64]
    zone = _zone(name) if name else None
    return zone or UTC


def clock_text(moment: datetime, style: str, now: datetime) -> str:
    """The same text the script (static/app.js) writes, so nothing shifts on load."""
    if style == "precise":
        return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if style == "full":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == "short" and moment.date() == now.date():
        return moment.strftime("%H:%M")
    if moment.date() == now.date():
        return moment.strftime("%H:%M:%S")
    if moment.year == now.year:
        return f"{moment.strftime('%b')} {moment.day}, {moment.strftime('%H:%M')}"
    return moment.strftime("%Y-%m-%d")


def utc_title(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d} UTC"


@pass_context
def when(context: Context, value: datetime | None, style: str = "clock") -> Markup:
    """A ``<time>`` element: the viewer's local time, the exact UTC value on hover
    (``value`` is a presented row's time, or an account's, see :func:`ns_when`)."""
    if value is None:
        return Markup("—")
    zone: tzinfo = context.get("tz") or UTC
    local = value.astimezone(zone)
    text = clock_text(local, style, datetime.now(zone))
    exact = value.astimezone(UTC).isoformat().replace("+00:00", "Z")  # for the script
    # Digits, dashes, colons and month names: nothing to escape but the template's style
    # (Markup.format escaped each part through string.Formatter: a third of the Users
    # page's rendering, two times a row).
    return Markup(
        f'<time datetime="{exact}" title="{utc_title(local)}" data-fmt="{escape(style)}">'
        f"{text}</time>"
    )


@pass_context
def ns_when(context: Context, value: int | None, style: str = "clock") -> Markup:
    """``when`` for the times of keys and users (``created_ns``), which are not rows."""
    return when(context, present.moment(value), style)


# -- numbers and text ---------------------------------------------------------------------


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def plural(value: int, word: str, many: str | None = None) -> str:
    return f"{value:,} {word if value == 1 else (many or word + 's')}"


def idle(ms: float) -> str:
    minutes = ms / 60_000
    if minutes < 1:
        return f"{ms / 1000:.0f} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.0f} days"


def display_preview(text: str | None) -> str:
    """A list preview as a person reads it: a one-field JSON object shows its text."""
    if not text:
        return ""
    if text.startswith("{") and text.endswith("}"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if isinstance(value, dict) and len(value) == 1:
            (only,) = value.values()
            if isinstance(only, str):
                return only
    if text.startswith('"') and text.endswith('"') and len(text) > 1:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if isinstance(value, str):
            return value
    return text


def short_json(value: Any, limit: int = 100) -> str | None:
    """Compact JSON for a small value (shown on one line), else None."""
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit and "\n" not in text else None


def project_slug(project: Any) -> str:
    """A project's part of page addresses: its name, or its id when the name has a slash."""
    name: str = project.name
    return quote(project.id if "/" in name or name in ("", ".", "..") else name, safe="")


def url_part(value: str) -> str:
    return quote(value, safe="")


def query(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from params with changes applied; None or "" drops a key."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v is not None and v != "" and v != []}
    return "?" + urlencode(kept, doseq=True) if kept else "?"


def score_value(score: dict[str, Any]) -> str:
    """A score as a person reads it: its label, else its value ("up"/"down" for thumbs)."""
    if score.get("label"):
        return str(score["label"])
    value = score.get("value")
    if value is None:
        return "—"
    if score.get("name") == "thumbs" and value in (0, 1):
        return "up" if value == 1 else "down"
    number = float(value)
    if number == int(number) and abs(number) < 1e6:
        return str(int(number))
    return f"{number:.2f}" if abs(number) < 100 else f"{number:.0f}"


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()


# -- static files ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str


def load_assets() -> dict[str, Asset]:
    assets = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            body = path.read_bytes()
            media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if path.suffix == ".js":
                media = "text/javascript"
            assets[path.name] = Asset(body, media, hashlib.sha256(body).hexdigest()[:12])
    return assets


def static_route(assets: dict[str, Asset]) -> Route:
    async def serve(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None:
            return Response("Not found", 404, media_type="text/plain")
        cache = (
            "public, max-age=31536000, immutable"
            if request.query_params.get("v") == asset.version
            else "no-cache"
        )
        headers = {"Cache-Control": cache, "ETag": f'"{asset.version}"'}
        if request.headers.get("if-none-match") == f'"{asset.version}"':
            return Response(status_code=304, headers=headers)
        charset = "; charset=utf-8" if asset.media_type.startswith("text/") else ""
        return Response(asset.body, media_type=asset.media_type + charset, headers=headers)

    return Route("/static/{name}", serve, name="static")


# -- the environment ----------------------------------------------------------------------------


def environment(assets: dict[str, Asset]) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        tokens=fmt.tokens,
        cost=fmt.cost,
        duration=fmt.duration,
        count=count,
        when=when,
        ns_when=ns_when,
        idle=idle,
        preview=display_preview,
        u=url_part,
        slug=project_slug,
        json=to_json,
        short_json=short_json,
        score_value=score_value,
        linkify=linkify,
    )
    env.globals.update(
        static=lambda name: f"/static/{name}?v={assets[name].version}",
        query=query,
        plural=plural,
        escape=escape,
    )
    return env
