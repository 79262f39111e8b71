"""Reward links: a merchant customer's link to a points card, activated by a one-time password."""

from __future__ import annotations

import sqlalchemy as sa

from .extensions import db
from .models import RewardLink


class LinkNotFound(Exception):
    """No link with that code belongs to this partner (another partner's link is not found either)."""


def find_link(partner_client_id: int, code: str) -> RewardLink:
    """The link with this code, if the calling partner created it."""
    link = db.session.scalar(
        sa.select(RewardLink).where(RewardLink.code == code, RewardLink.partner_client_id == partner_client_id)
    )
    if link is None:
        raise LinkNotFound(code)
    return link
