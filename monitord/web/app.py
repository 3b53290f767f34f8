"""The console as an ASGI application: the API's and the pages' routes, the package's own
CSS, the security headers on every response."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from monitord.core.clock import Clock
from monitord.settings.config import Config
from monitord.web import api, health, lookup, pages
from monitord.web.context import Console
from monitord.web.gate import Accounts
from monitord.web.headers import SecurityHeaders
from monitord.web.render import Pages

STATIC = Path(__file__).resolve().parent / "static"


def make_app(
    cfg: Config,
    engine: Engine,
    clock: Clock,
    accounts: Accounts,
    *,
    secure: bool,
    session_max: timedelta,
) -> Starlette:
    """The console for the store ``engine``; ``secure`` when its address is HTTPS (its own
    TLS, or a proxy's in front of it): cookies are then Secure and HSTS is sent."""
    state = Console(
        cfg=cfg,
        engine=engine,
        clock=clock,
        accounts=accounts,
        secure=secure,
        session_max=session_max,
        pages=Pages(cfg.tz, cfg.settings.school.name),
    )
    app = Starlette(
        routes=[
            *api.ROUTES,
            *pages.ROUTES,
            *lookup.ROUTES,
            *health.ROUTES,
            Mount("/static", StaticFiles(directory=STATIC)),
        ],
        middleware=[Middleware(SecurityHeaders, https=secure)],
    )
    app.state.console = state
    return app
