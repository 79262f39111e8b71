"""Flask extensions, created unbound and bound in create_app."""

from pathlib import Path

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Stable constraint names keep migrations and error messages readable on SQLite and PostgreSQL alike.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
# The schema's history: Alembic revisions in this package's migrations/ folder (see database.upgrade_schema).
migrate = Migrate(directory=str(Path(__file__).with_name("migrations")))
csrf = CSRFProtect()
# Per-address limits on failed sign-ins and client authentications (rate_limits.py); no limit unless a view has one.
limiter = Limiter(key_func=get_remote_address)
# English and Traditional Chinese (Hong Kong); bound with its locale selector by i18n.init_app.
babel = Babel()
