"""Flask-WTF forms of shopper accounts: sign in, sign up, sign out. Labels and messages go through gettext."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from ..extensions import db
from ..models import User
from ..validation import ShopForm

MIN_PASSWORD_LENGTH = 8


def normalise_email(value: str | None) -> str | None:
    return value.strip().lower() if isinstance(value, str) else value


class SignInForm(ShopForm):
    email = EmailField(
        _l("Email"),
        filters=[normalise_email],
        validators=[DataRequired(_l("Enter your email address.")), Email(_l("Enter a valid email address."))],
        render_kw={"autocomplete": "email"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class SignUpForm(ShopForm):
    name = StringField(
        _l("Full name"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(_l("Enter your name.")),
            Length(max=80, message=_l("Keep your name under 80 characters.")),
        ],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        _l("Email"),
        filters=[normalise_email],
        validators=[
            DataRequired(_l("Enter your email address.")),
            Email(_l("Enter a valid email address.")),
            Length(max=254, message=_l("That email address is too long.")),
        ],
        render_kw={"autocomplete": "email"},
    )
    phone = StringField(
        _l("Mobile number (optional)"),
        filters=[lambda value: value.replace(" ", "") if isinstance(value, str) else value],
        validators=[Optional(), Regexp(r"^[4-9][0-9]{7}$", message=_l("Enter an 8-digit Hong Kong mobile number."))],
        render_kw={"autocomplete": "tel-national", "inputmode": "numeric"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Choose a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=128,
                message=_l("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
            ),
        ],
        description=_l("At least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Confirm password"),
        validators=[
            DataRequired(_l("Type your password again.")),
            EqualTo("password", _l("The passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    next = HiddenField()
    submit = SubmitField(_l("Create account"))

    def validate_email(self, field) -> None:
        if db.session.scalar(sa.select(User.id).where(User.email == field.data)) is not None:
            raise ValidationError(_l("An account with this email already exists. Sign in instead."))


class SignOutForm(ShopForm):
    submit = SubmitField(_l("Sign out"))
