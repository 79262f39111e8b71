"""Request log, uuid echo and fault injection for the JSON API blueprints (placeholder)."""

from flask import Blueprint


def instrument(bp: Blueprint) -> None:
    """Attach logging and fault hooks to a blueprint."""
