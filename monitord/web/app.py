"""The console as an ASGI application: the API's and the pages' routes, the package's own
CSS, the security headers on every response."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from monitord.casework.sessions import limits_of
from monitord.casework.totpkey import TotpKey, key_file
from monitord.core.clock import Clock
from monitord.settings.config import Config
from monitord.web import (
    accountpage,
    api,
    devicepage,
    enrol,
    health,
    listpage,
    lookup,
    pages,
    reports,
    reviewpage,
    trailpage,
)
from monitord.web.context import Console
from monitord.web.forwarded import ForwardedFor, Proxies
from monitord.web.gate import Gate
from monitord.web.headers import BodyLimit, SecurityHeaders
from monitord.web.render import Pages

STATIC = Path(__file__).resolve().parent / "static"


def served_over_https(cfg: Config) -> bool:
    """Whether staff reach the console over HTTPS: its own certificate, or a ``base_url``
    of https:// (a proxy in front of it gives the TLS)."""
    web = cfg.settings.web
    return bool(web.tls_cert) or web.base_url.startswith("https://")


def make_app(cfg: Config, engine: Engine, clock: Clock) -> Starlette:
    """The console for the store ``engine``. Served over HTTPS (``served_over_https``), its
    cookies are Secure and it sends HSTS."""
    secure = served_over_https(cfg)
    state = Console(
        cfg=cfg,
        engine=engine,
        clock=clock,
        accounts=Gate(engine, limits_of(cfg), TotpKey(key_file(cfg))),
        secure=secure,
        pages=Pages(cfg.tz, cfg.settings.school.name),
    )
    app = Starlette(
        routes=[
            *api.ROUTES,
            *accountpage.ROUTES,
            *pages.ROUTES,
            *lookup.ROUTES,
            *health.ROUTES,
            *devicepage.ROUTES,
            *enrol.ROUTES,
            *reports.ROUTES,
            *trailpage.ROUTES,
            *listpage.ROUTES,
            *reviewpage.ROUTES,
            Mount("/static", StaticFiles(directory=STATIC)),
        ],
        middleware=[
            Middleware(ForwardedFor, proxies=Proxies.of(cfg.settings.web.trusted_proxies)),
            Middleware(SecurityHeaders, https=secure),
            Middleware(BodyLimit),
        ],
    )
    app.state.console = state
    return app
