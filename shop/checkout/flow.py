"""Which Pay with Points flow a shopper sees: the native one (points at checkout) or the legacy one (for contrast).

The shop's default is `SHOP_PWP_FLOW` (native unless set); a stakeholder may switch it for their own browser
session on the insights page, which stores the choice under ``session["pwp_flow"]``.
"""

from __future__ import annotations

from flask import current_app, session

FLOWS = ("native", "legacy")
SESSION_KEY = "pwp_flow"


def default_flow() -> str:
    """The configured flow (`SHOP_PWP_FLOW`); an unknown value is refused when the app starts."""
    return current_app.config["PWP_FLOW"]


def current_flow() -> str:
    """The flow of this request: the session's own choice if it made one, else the configured default."""
    chosen = session.get(SESSION_KEY)
    return chosen if chosen in FLOWS else default_flow()


def choose_flow(flow: str) -> None:
    """Remember ``flow`` for this browser session (raises ValueError on an unknown flow)."""
    if flow not in FLOWS:
        raise ValueError(f"Unknown Pay with Points flow {flow!r}")
    session[SESSION_KEY] = flow
