"""Test-only helpers shared by shop/tests and issuer_sandbox/tests (never imported by either app)."""
