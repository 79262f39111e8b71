"""Configuration defaults of the issuer sandbox. Overridden by ISSUER_* environment variables."""

# Demo defaults of DESIGN.md; outside demo mode every secret must be set explicitly.
DEMO_SECRETS = {
    "SECRET_KEY": "demo-issuer-secret-key-not-for-production",
    "OTP_HASH_KEY": "demo-otp-hash-key-not-for-production",
    "SANDBOX_KEY": "demo-sandbox-key",
    "CONSOLE_PASSWORD": "demo",
    "PARTNER_CLIENT_ID": "harbour-mall",
    "PARTNER_CLIENT_SECRET": "harbour-mall-secret",
}

# --- Production hardening (issue 10) ---------------------------------------------------------------
# Settings that are secrets: in production none may be a published demo value or shorter than this.
# The client id is an identifier, not a secret, so the demo's "harbour-mall" may stay.
SECRET_SETTINGS = ("SECRET_KEY", "OTP_HASH_KEY", "SANDBOX_KEY", "CONSOLE_PASSWORD", "PARTNER_CLIENT_SECRET")
MIN_SECRET_BYTES = 32

DEFAULTS = {
    "ENV": "demo",  # demo | production
    "DATABASE_URL": None,  # None: instance/issuer.sqlite3
    "PARTNER_MERCHANT_NAME": "Harbour Mall",
    "BANK_NAME": "Summit Bank",
    "CURRENCY_CODE": "HKD",
    "TOKEN_TTL_SECONDS": 1800,
    "OTP_TTL_SECONDS": 300,
    "OTP_MAX_ATTEMPTS": 5,
    "OTP_RESEND_COOLDOWN_SECONDS": 30,
    "OTP_MAX_RESENDS": 3,
    "MAX_CONTENT_LENGTH": 64 * 1024,  # partner bodies are small; anything larger is refused with 413
    "CONSOLE_SESSION_MINUTES": 60,
    # The request log is written in batches this often (see request_log.py).
    "REQUEST_LOG_FLUSH_MS": 200,
    # Not Flask's default "session": the shop runs on the same host, and cookies ignore the port.
    "SESSION_COOKIE_NAME": "summit_console_session",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the console session
    # --- Production hardening (issue 10) ---
    # The sandbox controls (reset, faults, clock, points, test cardholders, freeze, unlink) in the console and
    # under /sandbox/api: "on" or "off" (ISSUER_SANDBOX_CONTROLS); None: on in demo mode, off in production.
    "SANDBOX_CONTROLS": None,
    # Strict-Transport-Security is sent when PREFERRED_URL_SCHEME is https (behind a TLS proxy).
    "PREFERRED_URL_SCHEME": "http",
    "HSTS_MAX_AGE_SECONDS": 365 * 24 * 3600,
    **{key: None for key in DEMO_SECRETS},
}

# --- Rate limits and OTP abuse (issue 10) ------------------------------------------------------------
# Limit strings as the `limits` library reads them ("10 per minute", "5/hour"). The failed-attempt limits are
# counted in each worker's memory (RATELIMIT_STORAGE_URI), so with N gunicorn workers an address gets at most
# N x the limit; the OTP limits are counted in the database, exact across workers and on the sandbox clock.
DEFAULTS |= {
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_STRATEGY": "moving-window",
    "RATE_LIMIT_CONSOLE_SIGNIN": "10 per 15 minutes",  # failed console sign-ins per address
    "RATE_LIMIT_TOKEN_FAILURES": "20 per 15 minutes",  # failed client authentications per address
    "OTP_SMS_LIMIT_PER_CARD": "5 per hour",  # OTP SMS (enrolments and resends) per card, every merchant
    "OTP_SMS_LIMIT_PER_PHONE": "10 per hour",  # OTP SMS per mobile number, whichever card
    "OTP_FAILED_ATTEMPTS_LIMIT_PER_CARD": "10 per hour",  # wrong OTPs per card, across its links
}
