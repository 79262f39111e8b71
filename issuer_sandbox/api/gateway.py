from flask import Blueprint

bp = Blueprint("gateway", __name__)
