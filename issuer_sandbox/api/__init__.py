"""The issuer's JSON APIs: partner API, card gateway, sandbox controls and the OpenAPI document."""

from flask import Flask

from ..extensions import csrf
from .errors import register_error_handlers


def register_api(app: Flask) -> None:
    from . import gateway, links, observability, openapi, redemptions, sandbox, token

    register_error_handlers(app)
    for blueprint in (token.bp, links.bp, redemptions.bp, gateway.bp, *sandbox.blueprints, openapi.bp):
        csrf.exempt(blueprint)  # JSON APIs authenticate with tokens and keys, not cookies
        observability.instrument(blueprint)
        app.register_blueprint(blueprint)
