"""Configuration defaults of Harbour Mall. Overridden by SHOP_* environment variables."""

from .passwords import SCRYPT_METHOD

# Demo defaults of DESIGN.md; outside demo mode every secret must be set explicitly.
DEMO_SECRETS = {
    "SECRET_KEY": "demo-shop-secret-key-not-for-production",
    "ISSUER_CLIENT_ID": "harbour-mall",
    "ISSUER_CLIENT_SECRET": "harbour-mall-secret",
}

# --- Production hardening (issue 10) ---------------------------------------------------------------
# Settings that are secrets: in production none may be a published demo value or shorter than this.
# The client id is an identifier, not a secret.
SECRET_SETTINGS = ("SECRET_KEY", "ISSUER_CLIENT_SECRET")
MIN_SECRET_BYTES = 32

DEFAULTS = {
    "ENV": "demo",  # demo | production
    "DATABASE_URL": None,  # None: instance/shop.sqlite3
    "SHOP_NAME": "Harbour Mall",
    "BANK_NAME": "Summit Bank",
    "CURRENCY_CODE": "HKD",
    # Visitors' catalogue pages kept per worker (see page_cache.py); 0 pages turns the cache off.
    "PAGE_CACHE_MAX_PAGES": 512,
    "PAGE_CACHE_SECONDS": 60,  # a safety net only: a page is rendered again as soon as stock or prices change
    "ISSUER_URL": "http://127.0.0.1:8001",
    # The one base URL of the bank's API (token, rewards and gateway paths are relative to it); None:
    # ISSUER_URL + "/gcb/api", so a deployment that sets only SHOP_ISSUER_URL keeps working.
    "ISSUER_API_URL": None,
    "ISSUER_TIMEOUT_SECONDS": 5,  # every issuer call has a timeout
    "ISSUER_CONNECT_TIMEOUT_SECONDS": 2,
    # Whether the bank client reads proxy settings (HTTP_PROXY, NO_PROXY, ~/.netrc) from the environment.
    "ISSUER_USE_ENVIRONMENT_PROXIES": False,
    "FREE_DELIVERY_THRESHOLD_CENTS": 50000,  # free delivery from HK$500
    "DELIVERY_FEE_CENTS": 4000,  # HK$40 otherwise
    "PRODUCTS_PER_PAGE": 12,
    "BABEL_DEFAULT_LOCALE": "en",
    "LANGUAGES": ["en", "zh_Hant_HK"],
    # Browsers do not separate cookies by port: the shop and the bank console on one host need
    # different cookie names, or signing in to one signs you out of the other.
    "SESSION_COOKIE_NAME": "harbour_mall_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 7,
    "MAX_CONTENT_LENGTH": 256 * 1024,
    # scrypt at 8 MiB per hash (see passwords.py); tests set a cheap one.
    "PASSWORD_HASH_METHOD": SCRYPT_METHOD,
    # Reconciliation (`flask --app shop reconcile`, the "Check again" button): an intent to move money with no
    # recorded answer is stale after this long, comfortably above the longest wait of one bank step (a
    # redemption, its look-up and one resend, each up to connect + read timeout); fresher ones are left to the
    # worker that may still be waiting on the bank.
    "RECONCILE_AFTER_SECONDS": 60,
    # The Pay with Points flow: "native" (points at checkout) or "legacy" (nothing at checkout; the bank's SMS
    # sends the cardholder to its own redemption site). A stakeholder may switch it for their own session.
    "PWP_FLOW": "native",
    # --- Production hardening (issue 10) ---
    # Strict-Transport-Security is sent when PREFERRED_URL_SCHEME is https (behind a TLS proxy).
    "PREFERRED_URL_SCHEME": "http",
    "HSTS_MAX_AGE_SECONDS": 365 * 24 * 3600,
    **{key: None for key in DEMO_SECRETS},
}

# --- Rate limits (issue 10) ------------------------------------------------------------------------------
# Limit strings as the `limits` library reads them ("10 per minute", "5/hour"), counted in each worker's memory
# (RATELIMIT_STORAGE_URI): with N gunicorn workers a client gets at most N x the limit.
DEFAULTS |= {
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_STRATEGY": "moving-window",
    "RATE_LIMIT_SIGN_IN_FAILURES": "10 per 15 minutes",  # failed sign-ins per address
    "RATE_LIMIT_SIGN_IN_FAILURES_PER_ACCOUNT": "10 per 15 minutes",  # failed sign-ins per email, any address
    "RATE_LIMIT_SIGN_UP_FAILURES": "20 per 15 minutes",  # refused sign-ups (e.g. email taken) per address
    "RATE_LIMIT_CODE_REQUESTS_PER_ORDER": "6 per 10 minutes",  # "send a code" and "resend" per order
}
