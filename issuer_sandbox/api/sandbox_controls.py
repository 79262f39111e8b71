from flask import Blueprint

bp = Blueprint("sandbox_controls", __name__)
