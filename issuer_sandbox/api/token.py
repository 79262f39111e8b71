from flask import Blueprint

bp = Blueprint("token", __name__)
