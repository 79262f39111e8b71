"""The base of every named rule failure: each one carries the HTTP status and stable code the API answers.

Rules raise these; one error handler (``api.errors``) turns any of them into ``{type, code, details}``, and
the OpenAPI test reads the same classes, so a code the API can answer is a code the document lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar


class RuleError(Exception):
    """A rule refused the call. Concrete subclasses set ``status`` and ``code``; the message is ``details``."""

    status: ClassVar[int]
    code: ClassVar[str]
    # The sandbox controls' errors answer on /sandbox/api, which the partner OpenAPI document leaves out.
    sandbox_only: ClassVar[bool] = False

    @property
    def details(self) -> str:
        """Human text for the error body (the message the rule raised with)."""
        return str(self)

    def extra_fields(self) -> dict[str, Any]:
        """Fields the error body adds beside type, code and details (e.g. attemptsRemaining)."""
        return {}

    def extra_headers(self) -> dict[str, str]:
        """Headers the error response adds (e.g. Retry-After)."""
        return {}


def error_classes() -> Iterator[type[RuleError]]:
    """Every concrete rule error defined so far (the ones that set a code), depth first."""
    pending = list(RuleError.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if hasattr(cls, "code"):
            yield cls
