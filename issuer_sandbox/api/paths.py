"""Where the partner API lives: under the real issuer's base path, with today's unprefixed paths as aliases.

At the real issuer the token call and the rewards calls share one base path, ``/gcb/api``. Every partner and
gateway view is served there (the primary path) and at its unprefixed path (a documented alias). Both rules
name the same endpoint, so fault rules, the request log and the blueprint hooks treat them as one call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint

F = TypeVar("F", bound=Callable[..., Any])

BASE_PATH = "/gcb/api"
TOKEN_PATH = f"{BASE_PATH}/clientCredentials/oauth2/token/hk/gcb"
REWARDS = "/v1/apac/rewards"
GATEWAY = "/gateway/v1"


def primary(alias: str) -> str:
    """The primary path of an unprefixed alias: ``/v1/apac/rewards/linkage`` -> ``/gcb/api/v1/apac/rewards/linkage``."""
    return f"{BASE_PATH}{alias}"


def route(bp: Blueprint, alias: str, methods: list[str]) -> Callable[[F], F]:
    """Register a view at its primary path under /gcb/api and at its unprefixed alias, as one endpoint."""

    def decorator(view: F) -> F:
        bp.add_url_rule(primary(alias), view_func=view, methods=methods)
        bp.add_url_rule(alias, view_func=view, methods=methods)
        return view

    return decorator
