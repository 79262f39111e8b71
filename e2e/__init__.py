"""End-to-end tests: both apps as real processes, driven over HTTP and through Chromium."""
