"""Flask's signed-cookie sessions, with the signing serializer built once rather than twice a request.

Flask builds a new ``URLSafeTimedSerializer`` to open the session on every request, partner API calls
included (they never carry the cookie), and building one serialises a test value to learn whether its
serializer is text or bytes. The serializer depends only on the secret key and its fallbacks, so it is kept
until either changes (tests change the key on a live app; a key rotation restarts the workers). The shop
has its own copy of this (the two apps share no code).
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class ReusedSerializerSessionInterface(SecureCookieSessionInterface):
    """The same cookies as Flask's own interface; only the serializer object is reused."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._serializer  # one read: another thread may replace it, never half-way
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            self._serializer = cached
        return cached[1]
