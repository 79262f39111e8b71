"""GET /healthz: version and database status, for start-up scripts and monitors."""

import sqlalchemy as sa
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .database import read_only
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@read_only
def healthz():
    from . import __version__

    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        db.session.rollback()
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return jsonify(
        {
            "service": "shop",
            "version": __version__,
            "database": database,
            "status": "ok" if status == 200 else "degraded",
        }
    ), status
