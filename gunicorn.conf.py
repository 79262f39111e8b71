"""How both apps run under gunicorn: the one place `make demo`, `make bench` and the e2e harness read it from.

`make demo` runs `gunicorn --config gunicorn.conf.py --bind HOST:PORT APP`; e2e/harness.py builds the same
command (adding only what the e2e suite needs on top, such as an access log to keep with a failed test).
"""

import sys

worker_class = "gthread"
workers = 2
# Request threads per worker, by the app the command line serves (`shop:create_app()` -> "shop").
# The issuer's threads compute or wait on its database: 8, as the bench's floor app has.
# The shop's threads also wait without computing: on the bank's answers, and in a burst of sign-ups on the password
# hash, which a worker runs one at a time on a thread of its own (shop/passwords.py). With 8, 20 shoppers signing
# up at once filled every thread of both workers with sign-ups waiting for their hash, and the shoppers already
# past sign-up queued for a free thread (20 concurrent checkouts, mean of the steps' p50: 82-106 ms with 8 threads,
# 59-72 ms with 16, alternating runs; the shop's wrk page figures did not move).
THREADS_BY_APP = {"shop": 16, "issuer_sandbox": 8}
DEFAULT_THREADS = 8


def _threads_for(argv: list[str]) -> int:
    """The threads of the app gunicorn's command line ends with (its APP_MODULE, `module:variable`)."""
    module = argv[-1].partition(":")[0] if len(argv) > 1 and ":" in argv[-1] else ""
    return THREADS_BY_APP.get(module, DEFAULT_THREADS)


threads = _threads_for(sys.argv)
# Each worker listens on a socket of its own (SO_REUSEPORT), which the kernel spreads new connections over, and
# keeps a client's connection open between its requests. With one shared socket and keep-alive, a client's
# connections stuck to whichever worker accepted them first (under wrk all 16 often landed on one worker, which
# served them on one core); closing every connection after its answer, as before, cost each request a new TCP
# connection: the bench's floor app ran at 3,029 req/s that way against 5,272 with keep-alive. Alternating runs,
# closed connections -> own sockets with keep-alive: token 842-1,038 -> 1,127-1,452 req/s, balance 961-1,252 ->
# 1,426-1,711, shop home 991-1,402 -> 1,426-2,186.
reuse_port = True
keepalive = 2  # seconds an idle connection stays open
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

# glibc gives each thread that allocates under contention an arena of its own (up to 8 per CPU); with 8 request
# threads a worker kept up to 8 arenas of freed-but-held memory. Two arenas cost the threads no measurable wait
# (most allocations are Python's own, under the GIL) and cut peak RSS (e2e/bench_memory.py, master + 2 workers:
# issuer 184 -> 178 MiB, shop 275 -> 267 MiB). Set in each worker before its threads start.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h
# glibc serves a block above its mmap threshold with a mapping of its own, returned to the system when freed;
# but freeing one raises the threshold to that block's size, so the next blocks that big come from an arena,
# and an arena keeps its freed memory. A shop worker's 8 MiB password hash (shop/passwords.py) so stayed
# resident after it, once per arena: 102 MiB a worker after 20 sign-ups instead of 95 (memory held at 87
# between hashes). A fixed threshold (which also turns the raising off) gives every block of 1 MiB or more
# back when it is freed.
MALLOC_MMAP_THRESHOLD = 1 << 20
M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def on_starting(server):
    """Refuse to start where something listens on the address already.

    Sockets with SO_REUSEPORT share a port with any other such socket of the same user: a second `make demo`
    would otherwise start without an error and serve half of the first one's requests.
    """
    import errno
    import socket

    for address in server.cfg.address:
        if not isinstance(address, tuple):  # a unix socket: no port to share
            continue
        probe = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
            probe.bind(address)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            server.log.error("%s:%s is in use already: another server listens there (stop it first)", *address)
            sys.exit(1)
        finally:
            probe.close()
    # gunicorn's own "Listening at" line is empty when only the workers hold sockets.
    server.log.info("Workers listen at %s, a socket each", ", ".join(server.cfg.bind))


def when_ready(server):
    """In the master, before it forks any worker: what `pre_fork` needs, set up (see `_listen_state`)."""
    _listen_state()


def on_reload(server):
    """A HUP: gunicorn forks a whole new set of workers and stops the old ones at once, so none of the new set
    waits to listen (see `pre_fork`): connections wait for them, as gunicorn has them, instead of being refused."""
    _listen_state().reload_until_age = server.worker_age + server.cfg.workers


def pre_fork(server, worker):
    """In the master, just before it forks ``worker``: does the worker open its socket now, or once ready?

    gunicorn opens a worker's own socket (SO_REUSEPORT) as soon as it forks it, before the worker loads the
    app: the kernel then drew connections for that socket into a queue nobody accepted from while the app
    loaded (about 1.5 s under load, each such connection waiting all of it), and reset them all when the
    worker died before it was up (the e2e chaos test's killed workers: a shopper's read of the SMS outbox
    failed 4 times running). A replacement worker therefore opens it only in `post_worker_init`, if another
    worker listens already: that one takes every new connection meanwhile. With none listening (all workers
    died together, or none has loaded yet), the new worker opens it at once, as gunicorn does, so connections
    wait for it instead of being refused. The forked child inherits the decision, which the wrapped socket
    creation reads.
    """
    state = _listen_state()
    state.next_worker_listens_once_ready = worker.listens_once_ready = _replaces_a_worker_beside_others(
        server, worker, state
    )


def post_fork(server, worker):
    """Cap the worker's malloc arenas and fix its mmap threshold (where the C library has no mallopt, nothing
    to do)."""
    import ctypes

    if not getattr(worker, "listens_once_ready", True):
        _listen_state().say_listening(worker)  # gunicorn opened its socket at the fork
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the process's own symbols: the C library's
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)
        mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)


def post_worker_init(worker):
    """Before the worker's first request: the app's own start, if it has one (the shop compiles its templates;
    on SQLite both apps move WAL checkpoints to a thread of their own), then the objects built so far frozen;
    last, a replacement worker's sockets (see `pre_fork`).

    The app's modules, routes, compiled templates and statements live as long as the worker, yet every full
    collection of the cyclic garbage collector walked them all again: frozen, they are never scanned (a cached
    catalogue page ~720 -> ~650 us in-process).
    """
    import gc

    worker_start = getattr(worker.wsgi, "extensions", {}).get("worker_start")
    if worker_start is not None:
        worker_start()
    gc.collect()
    gc.freeze()
    if getattr(worker, "listens_once_ready", False):
        _listen_now(worker)


def _replaces_a_worker_beside_others(server, worker, state) -> bool:
    """A worker forked after the first ones (to replace one that died or was restarted) while another listens.

    The first workers listen at once, as gunicorn has them: at a start no one else serves, and a connection
    that waits for the app beats one refused; so does the replacement of a lone worker, or of all of them,
    and a reload's new workers.
    """
    if not server.cfg.reuse_port or worker.age <= max(server.num_workers, state.reload_until_age):
        return False
    return bool(state.listening_pids() & set(server.WORKERS))  # alive: the master has not reaped them


LISTENING_SLOTS = 64  # workers' pids by age: more than this many workers never run at once here


class _ListenState:
    """What the workers that listen once ready need across the master's forks: the decision for the next fork,
    gunicorn's own socket creation, and a board (an anonymous shared mapping, written by every forked worker)
    of the workers that listen."""

    def __init__(self, create_sockets) -> None:
        import mmap

        self.create_sockets = create_sockets
        self.next_worker_listens_once_ready = False
        self.reload_until_age = 0
        self.board = mmap.mmap(-1, LISTENING_SLOTS * 8)

    def say_listening(self, worker) -> None:
        slot = worker.age % LISTENING_SLOTS
        self.board[slot * 8 : slot * 8 + 8] = worker.pid.to_bytes(8, "little")

    def listening_pids(self) -> set[int]:
        return {int.from_bytes(self.board[slot * 8 : slot * 8 + 8], "little") for slot in range(LISTENING_SLOTS)}


def _listen_state() -> _ListenState:
    """The one state, kept on gunicorn's `sock` module (a HUP reads this file again, into fresh globals), whose
    `create_sockets` it wraps: no socket for a worker that listens once ready (see `pre_fork`)."""
    from gunicorn import sock

    state = getattr(sock, "_listens_once_ready_state", None)
    if state is None:
        state = sock._listens_once_ready_state = _ListenState(sock.create_sockets)

        def create_sockets(conf, log, fds=None):
            if state.next_worker_listens_once_ready:  # in the child forked after `pre_fork` decided so
                return []
            return state.create_sockets(conf, log, fds)

        sock.create_sockets = create_sockets
    return state


def _listen_now(worker):
    """Open the worker's own sockets, as gunicorn would have at the fork, now that it can serve."""
    from gunicorn import util

    state = _listen_state()
    worker.sockets = state.create_sockets(worker.cfg, worker.log)
    for listener in worker.sockets:
        util.close_on_exec(listener)
    worker.wait_fds = worker.sockets + [worker.PIPE[0]]
    state.say_listening(worker)
