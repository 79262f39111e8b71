"""The issuer's JSON APIs: partner API, card gateway, sandbox controls and the OpenAPI document."""

from flask import Flask

from ..extensions import csrf
from .errors import register_error_handlers


def register_api(app: Flask) -> None:
    from . import gateway, links, observability, openapi, redemptions, sandbox, sandbox_controls, token

    register_error_handlers(app)
    for module in (token, links, redemptions, gateway, sandbox, sandbox_controls, openapi):
        csrf.exempt(module.bp)  # JSON APIs authenticate with tokens and keys, not cookies
        observability.instrument(module.bp)
        app.register_blueprint(module.bp)
