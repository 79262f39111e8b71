from flask import Blueprint

bp = Blueprint("sandbox", __name__)
