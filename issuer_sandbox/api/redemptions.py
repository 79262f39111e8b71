from flask import Blueprint

bp = Blueprint("redemptions", __name__)
