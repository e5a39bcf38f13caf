"""Gunicorn settings for Kopilka's web nodes (``bin/serve web``; README, "Production").

Every value can be overridden from the environment, so one file serves every node:

* ``WEB_CONCURRENCY`` — worker processes; default ``2 × CPUs + 1``. Workers are sync: a
  request holds its worker while it waits for PostgreSQL, so more workers than cores keeps the
  CPUs busy; each worker keeps one persistent database connection (``CONN_MAX_AGE``), so
  ``WEB_CONCURRENCY × web nodes`` must stay below PostgreSQL's ``max_connections``.
* ``HOST`` / ``PORT`` — where to listen (``127.0.0.1:8000``; behind a reverse proxy or load
  balancer, which terminates TLS and sets ``X-Forwarded-Proto``).
* ``GUNICORN_TIMEOUT`` (30 s) — a worker silent for longer is killed and restarted; the POS API
  answers in milliseconds, so only a stuck request hits it. ``GUNICORN_GRACEFUL_TIMEOUT`` (30 s)
  — on SIGTERM/HUP a worker gets this long to finish its request.
* ``GUNICORN_MAX_REQUESTS`` (2000, jitter 200) — workers are recycled after about this many
  requests, staggered so that they do not all restart at once; 0 switches recycling off.

The access log never contains query strings (a ``GET /api/v1/customers/lookup?phone=…`` would
otherwise write a phone number or a one-time code into it) nor the referer (the cabinet's URLs
carry tokens); it logs method, path, status, size, duration and the client.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [f"{os.environ.get('HOST') or '127.0.0.1'}:{_int('PORT', 8000)}"]
workers = max(1, _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10)
# Connections waiting for a free worker (the kernel's listen queue).
backlog = _int("GUNICORN_BACKLOG", 2048)
# Heartbeat files in memory: a worker on a slow or full disk is not taken for a dead one.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# X-Forwarded-* is trusted from these addresses only (the proxy in front).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "kopilka-web"
# gunicorn ≥ 24 opens a control socket at one fixed path per user (~/.gunicorn); two web
# servers on one machine (blue/green, a benchmark beside a node) would fight over it.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "") == ""
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(U)s is the path without its query string; %(M)s the request time in milliseconds.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
