"""How both apps run under gunicorn: the one place `make demo`, `make bench` and the e2e harness read it from.

`make demo` runs `gunicorn --config gunicorn.conf.py --bind HOST:PORT APP`; e2e/harness.py builds the same
command (adding only what the e2e suite needs on top, such as an access log to keep with a failed test).
"""

worker_class = "gthread"
workers = 2
threads = 8
timeout = 60
# gunicorn drops header names with underscores unless told otherwise; the partner API's `client_id` header
# has one, so it is passed through as-is.
header_map = "dangerous"
# Several servers may run at once (a demo, the bench, e2e pairs under xdist): none takes the shared control socket.
control_socket_disable = True
errorlog = "-"
# No access log: it cost every request a locked write to the terminal (about 8 % of a balance call); the sandbox
# console's request log shows every partner call.
accesslog = None
