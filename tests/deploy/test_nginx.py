"""deploy/nginx.conf in front of two waitress processes, end to end.

The module starts what deploy/ describes: a scratch database migrated with `flask db upgrade`,
two `waitress-serve --call app:create_app` processes in production settings with the flags of
deploy/hospital-api@.service, and nginx run from deploy/nginx.conf (only its ports, paths and
backends replaced). The tests then talk to nginx with raw sockets and http.client.

Needs the nginx binary (.ci/install-nginx installs Debian's; NGINX_BIN names another) and is
skipped only without it. The database is a fresh one on TEST_DATABASE_URL's server, else on the
PostgreSQL at 127.0.0.1:5432, else on an embedded PostgreSQL; Redis at 127.0.0.1:6379 is used
when it answers.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import resource
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg2
import pytest
from psycopg2 import sql

from deploy.nginx_conf import (
    directive,
    find_nginx,
    free_port,
    running_nginx,
    seconds,
    stop_process,
    tail,
    waitress_flags,
)

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/15"
VENV_BIN = Path(sys.executable).parent
STARTUP_SECONDS = 90
# Generous bounds: the machine running the suite may have 2 shared cores.
QUICK_ANSWER_SECONDS = 3.0
MANY_CLIENTS = 500
MANY_CLIENTS_SECONDS = 90.0
SLOW_CLIENTS = 150


NGINX = find_nginx()
pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (run .ci/install-nginx, "
                                             "i.e. apt-get install nginx; or set NGINX_BIN)"),
    pytest.mark.timeout(900),
]


# ---- processes ------------------------------------------------------------------------------

def wait_until_healthy(port: int, process: subprocess.Popen, log: Path,
                       source: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(port, "GET", "/health", source=source).status == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"not serving on port {port} (exit {process.poll()}):\n"
                               f"{tail(log)}")
        time.sleep(0.2)


def accepts_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432),
                                      timeout=2):
            return True
    except OSError:
        return False


def run_sql(url: str, statement) -> None:
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_database():
    """The URL of a new database, dropped afterwards."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit or accepts_connections(SYSTEM_POSTGRES):
        server = (explicit or SYSTEM_POSTGRES).replace("postgresql+psycopg2://", "postgresql://")
        name = f"hospital_deploy_{uuid.uuid4().hex[:10]}"
        run_sql(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(server)._replace(path="/" + name))
        finally:
            run_sql(server, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
    else:
        from tests.db_server import TestDatabase  # an embedded PostgreSQL

        database = TestDatabase()
        try:
            yield database.libpq_url
        finally:
            database.drop()


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def forget_redis_keys(prefix: str) -> None:
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


# ---- HTTP clients ---------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes

    def json(self):
        return json.loads(self.raw)


def request(port: int, method: str, path: str, body=None, token: str | None = None,
            headers: dict[str, str] | None = None, source: str = "127.0.0.1",
            timeout: float = 30) -> Answer:
    """One request on a new connection from `source` (any 127.x.y.z address is local)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                            source_address=(source, 0))
    try:
        all_headers = dict(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def raw_exchange(port: int, payload: bytes, source: str, timeout: float) -> tuple[int, float]:
    """Send one complete request on a raw socket; (status, seconds) once the answer ends."""
    started = time.monotonic()
    with socket.socket() as sock:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head = b"".join(chunks).split(b"\r\n", 1)[0]
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(match.group(1)) if match else 0), time.monotonic() - started


def read_message(sock: socket.socket, *, body_until_close: bool
                 ) -> tuple[str, dict[str, str], bytes, bool]:
    """One HTTP/1.1 message from `sock`: its start line, headers (lower-case names) and body
    (by Content-Length, else up to the close when `body_until_close`), and whether the head
    arrived whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    complete = b"\r\n\r\n" in data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        while len(body) < int(headers["content-length"]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    elif body_until_close:
        while chunk := sock.recv(65536):
            body += chunk
    return lines[0], headers, body, complete


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (or up to the close) from `sock`."""
    status_line, headers, body, _complete = read_message(sock, body_until_close=True)
    match = re.match(r"HTTP/1\.[01] (\d{3})", status_line)
    return (int(match.group(1)) if match else 0), headers, body


def loopback_address(i: int, network: int) -> str:
    """A distinct loopback source address per client: 127.<network>.<hi>.<lo>."""
    return f"127.{network}.{i // 250}.{i % 250 + 1}"


def raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# ---- logs -------------------------------------------------------------------------------------

ACCESS_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) \d+ rid=(?P<rid>\S+) '
                         r"rt=\S+ upstream=(?P<upstream>.*?) ustatus=(?P<ustatus>.*?) urt=")


def access_log(prefix: Path) -> list[dict[str, str]]:
    lines = (prefix / "logs" / "access.log").read_text(errors="replace").splitlines()
    return [match.groupdict() for match in map(ACCESS_LINE.search, lines) if match]


def logged(prefix: Path, wanted, count: int = 1, timeout: float = 10) -> list[dict[str, str]]:
    """nginx's access-log entries for which wanted(entry) holds, once there are `count`.

    nginx writes the line after the answer has gone out, so a client may read the answer
    before the line exists: wait for it.
    """
    deadline = time.monotonic() + timeout
    while True:
        entries = [entry for entry in access_log(prefix) if wanted(entry)]
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


# ---- the stack ----------------------------------------------------------------------------------

@dataclass
class Stack:
    port: int
    prefix: Path
    conf: str
    backend_ports: list[int]
    backend_logs: list[Path]
    admin_password: str
    users: dict[str, str] = field(default_factory=dict)

    def backend_log_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.backend_logs)

    def token(self, username: str = "deploy_checker") -> str:
        if username not in self.users:
            password = "correct-horse-battery-staple"
            answer = request(self.port, "POST", "/users/register", {
                "username": username,
                "phone_number": f"139{secrets.randbelow(10**8):08d}",
                "password": password})
            assert answer.status == 201, answer.raw
            answer = request(self.port, "POST", "/users/login",
                             {"username": username, "password": password})
            assert answer.status == 200, answer.raw
            self.users[username] = answer.json()["access_token"]
        return self.users[username]


@pytest.fixture(scope="module")
def stack():
    """Migrated scratch database, two waitress processes, nginx in front of them."""
    raise_open_file_limit(8192)
    key_prefix = f"deploy-test-{uuid.uuid4().hex[:10]}"
    workdir = Path(tempfile.mkdtemp(prefix="hospital-deploy-test-"))
    backends: list[subprocess.Popen] = []
    use_redis = redis_answers()
    try:
        with scratch_database() as database_url:
            admin_password = secrets.token_urlsafe(24)
            env = {key: value for key, value in os.environ.items()
                   if key not in ("TEST_DATABASE_URL", "FLASK_APP")}
            env.update({
                "APP_ENV": "production",
                "DATABASE_URL": database_url,
                "SECRET_KEY": secrets.token_urlsafe(36),       # 48 characters
                "JWT_SECRET_KEY": secrets.token_urlsafe(36),
                "REDIS_KEY_PREFIX": key_prefix,
                "RATELIMIT_ENABLED": "0",
                "SCHEDULER_ENABLED": "0",
                "PROXY_FIX_COUNT": "1",
                "ADMIN_PASSWORD": admin_password,
                "LOG_LEVEL": "INFO",                          # the access line per request
            })
            if use_redis:
                env["REDIS_URL"] = REDIS_URL
            else:
                env.pop("REDIS_URL", None)
            migrate = subprocess.run(
                [str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                capture_output=True, text=True, timeout=STARTUP_SECONDS)
            assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]

            ports = [free_port()]
            while len(ports) < 2:
                ports = sorted({*ports, free_port()})
            logs = [workdir / f"waitress-{port}.log" for port in ports]
            for port, log in zip(ports, logs, strict=True):
                with log.open("wb") as sink:
                    backends.append(subprocess.Popen(
                        [str(VENV_BIN / "waitress-serve"), *waitress_flags(port)],
                        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                        stderr=subprocess.STDOUT))
            for port, process, log in zip(ports, backends, logs, strict=True):
                wait_until_healthy(port, process, log)

            with running_nginx([f"127.0.0.1:{port}" for port in ports]) as (port, prefix):
                yield Stack(port=port, prefix=prefix, conf=(prefix / "nginx.conf").read_text(),
                            backend_ports=ports, backend_logs=logs,
                            admin_password=admin_password)
                # Stop serving before the database is dropped.
                for process in backends:
                    stop_process(process)
    finally:
        for process in backends:
            stop_process(process)
        if use_redis:
            forget_redis_keys(key_prefix)
        shutil.rmtree(workdir, ignore_errors=True)


# ---- the service through nginx ----------------------------------------------------------------

def test_the_service_works_through_nginx(stack):
    port = stack.port
    marker = uuid.uuid4().hex[:12]

    # Sign up, log in, read the catalogue and write, all through nginx.
    token = stack.token()
    answer = request(port, "GET", "/departments/", token=token)
    assert answer.status == 200, answer.raw
    assert {"count", "results"} <= set(answer.json())
    answer = request(port, "POST", "/patients/", {
        "name": "张小明", "gender": "male", "birthday": "2018-05-01",
        "phone_number": "138 0013 8000"}, token=token)
    assert answer.status == 201, answer.raw
    assert answer.json()["name"] == "张小明"

    # The bootstrapped admin exists and logs in through the proxy too.
    answer = request(port, "POST", "/users/login",
                     {"username": "admin", "password": stack.admin_password})
    assert answer.status == 200 and answer.json()["user"]["is_admin"] is True

    # The app's own errors pass through untouched, request id included.
    rid = f"deploy-404-{marker}"
    answer = request(port, "GET", "/no/such/url", headers={"X-Request-ID": rid})
    assert answer.status == 404
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.headers["X-Request-ID"] == rid
    assert answer.json() == {"code": "not_found", "message": "No such URL", "request_id": rid}
    [entry] = logged(stack.prefix, lambda e: e["rid"] == rid)
    assert entry["ustatus"] == "404"  # the app's answer, not nginx's look-alike

    # One request id in the answer, nginx's log and the app's log.
    rid = f"deploy-rid-{marker}"
    answer = request(port, "GET", "/health", headers={"X-Request-ID": rid})
    assert answer.status == 200 and answer.headers["X-Request-ID"] == rid
    assert [entry["status"] for entry in logged(stack.prefix, lambda e: e["rid"] == rid)] == [
        "200"]
    assert f"rid={rid}" in stack.backend_log_text()
    # A request id the app would refuse is replaced by nginx's own (32 hex digits).
    answer = request(port, "GET", "/health", headers={"X-Request-ID": "not a valid id!"})
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])

    # Requests are spread over both backends (nginx logs which one answered).
    spread_rids = {f"deploy-spread-{marker}-{i}" for i in range(20)}
    for rid in sorted(spread_rids):
        assert request(port, "GET", "/health", headers={"X-Request-ID": rid}).status == 200
    used = {entry["upstream"] for entry in logged(
        stack.prefix, lambda e: e["rid"] in spread_rids, count=len(spread_rids))}
    assert used == {f"127.0.0.1:{backend}" for backend in stack.backend_ports}, used
    backend_texts = [path.read_text(errors="replace") for path in stack.backend_logs]
    assert all(any(rid in text for rid in spread_rids) for text in backend_texts)


def test_an_oversized_body_is_refused_by_nginx_in_the_apps_error_shape(stack):
    limit = directive(stack.conf, "client_max_body_size")
    assert limit == "64k"  # the app's MAX_CONTENT_LENGTH (65536)
    token = stack.token()
    body = json.dumps({"name": "x" * 70_000, "gender": "male", "birthday": "2018-05-01",
                       "phone_number": "138 0013 8000"}).encode()
    rid = f"too-large-{uuid.uuid4().hex[:12]}"
    by_nginx = request(stack.port, "POST", "/patients/", body, token=token,
                       headers={"X-Request-ID": rid})
    by_app = request(stack.backend_ports[0], "POST", "/patients/", body, token=token,
                     headers={"X-Request-ID": rid + "-direct"})
    assert by_nginx.status == by_app.status == 413
    assert by_nginx.json() == {**by_app.json(), "request_id": rid}
    assert by_app.json()["request_id"] == rid + "-direct"
    assert by_nginx.headers["Content-Type"] == by_app.headers["Content-Type"]
    assert by_nginx.headers["X-Request-ID"] == rid
    # Refused before a backend was chosen: nginx logged it without an upstream.
    entries = logged(stack.prefix, lambda e: e["rid"] == rid)
    assert [(entry["status"], entry["upstream"]) for entry in entries] == [("413", "-")]
    assert f"rid={rid} " not in stack.backend_log_text()

    # 64 KiB exactly is accepted and reaches the app (which then validates the name).
    exact = b'{"name": "' + b"x" * (65536 - 12) + b'"}'
    assert len(exact) == 65536
    answer = request(stack.port, "POST", "/patients/", exact, token=token)
    assert answer.status == 400, answer.raw


def test_nginxs_own_errors_keep_the_api_error_shape(stack):
    """What nginx refuses itself answers like the app: {code, message, request_id}."""
    cases = [
        (b"BLAH\r\n\r\n", 400, "bad_request"),                     # no request line
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long"),
        (b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 400,
         "bad_request"),                                             # header line too long
        (b"GET /.api-error HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 404,
         "not_found"),                                               # the internal location
    ]
    for payload, status, code in cases:
        with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
            sock.sendall(payload)
            got, headers, body = read_response(sock)
        assert got == status, (payload[:40], got, body[:300])
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert json.loads(body) == {
            "code": code, "message": json.loads(body)["message"],
            "request_id": headers["x-request-id"]}
    # nginx's 404 is the app's 404 (the message included).
    app_404 = request(stack.port, "GET", "/no/such/url").json()
    assert json.loads(body)["message"] == app_404["message"]


def test_idle_keepalive_clients_do_not_hold_the_backends(stack):
    """Hundreds of idle keep-alive clients wait in nginx; new requests are served at once."""
    keepalive = int(directive(stack.conf, "keepalive"))
    workers = os.cpu_count() or 1
    token = stack.token()
    idle: list[socket.socket] = []
    try:
        for i in range(250):
            sock = socket.socket()
            sock.settimeout(30)
            sock.bind((loopback_address(i, 6), 0))
            sock.connect(("127.0.0.1", stack.port))
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: deploy-test\r\n\r\n")
            status, headers, _ = read_response(sock)
            assert status == 200 and headers.get("connection") == "keep-alive"
            idle.append(sock)  # and now it sits there, connected and idle
        started = time.monotonic()
        latencies = []
        for i in range(50):
            t0 = time.monotonic()
            if i % 5 == 0:
                answer = request(stack.port, "POST", "/patients/", {
                    "name": f"患者{i}", "gender": "female", "birthday": "1990-01-01",
                    "phone_number": "138 0013 8000"}, token=token, source="127.7.0.1")
                assert answer.status == 201, answer.raw
            else:
                answer = request(stack.port, "GET", "/departments/", token=token,
                                 source="127.7.0.1")
                assert answer.status == 200, answer.raw
            latencies.append(time.monotonic() - t0)
        elapsed = time.monotonic() - started
        held = backend_connections(stack.backend_ports)
        print(f"\n[nginx idle keep-alive] 250 idle clients held by nginx; 50 requests "
              f"(10 writes) in {elapsed:.2f}s ({50 / elapsed:.0f} req/s sequential), max "
              f"{max(latencies) * 1000:.0f} ms; backend connections {held}")
        assert max(latencies) < QUICK_ANSWER_SECONDS
        assert held <= keepalive * workers + 2, held
    finally:
        for sock in idle:
            sock.close()


def hold_requests(port: int, source: str, count: int) -> list[socket.socket]:
    """`count` requests from `source` whose headers are complete but whose body never comes.

    nginx counts each of them for limit_conn while it waits for the body.
    """
    holders = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"POST /patients/ HTTP/1.1\r\nHost: deploy-test\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        holders.append(sock)
    return holders


def test_requests_in_progress_per_client_address_are_limited(stack):
    """limit_conn: the (N+1)th request in progress from one address gets 429 from nginx."""
    _zone, limit = directive(stack.conf, "limit_conn").split()
    other = "127.3.255.1"
    for attempt in range(3):
        source = f"127.3.{attempt}.1"
        holders = hold_requests(stack.port, source, int(limit))
        try:
            time.sleep(1)  # nginx reads their headers (microseconds; generous on a busy box)
            answer = request(stack.port, "GET", "/health", source=source)
            # Had nginx read our probe before the last holders, the probe would have gone
            # through and a holder been refused instead: then try again from a new address.
            refused = selectors.DefaultSelector()
            for sock in holders:
                refused.register(sock, selectors.EVENT_READ)
            raced = bool(refused.select(timeout=0))
            refused.close()
            if raced and attempt < 2:
                continue
            assert not raced, "a request that nginx was still waiting on got an answer"
            assert answer.status == 429, answer.raw
            assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
            assert answer.headers["Retry-After"] == "1"
            assert answer.json() == {"code": "rate_limited",
                                     "message": "Too many requests; slow down",
                                     "request_id": answer.headers["X-Request-ID"]}
            # Other addresses are not affected.
            assert request(stack.port, "GET", "/health", source=other).status == 200
            break
        finally:
            for sock in holders:
                sock.close()
    # Once those requests end (here: their clients go away), the address is served again.
    deadline = time.monotonic() + 10
    while request(stack.port, "GET", "/health", source=source).status != 200:
        assert time.monotonic() < deadline, "the address stayed limited after its requests ended"
        time.sleep(0.1)


def backend_connections(ports: list[int]) -> int:
    """Established TCP connections accepted by the backends."""
    return sum(1 for conn in psutil.net_connections(kind="tcp")
               if conn.status == psutil.CONN_ESTABLISHED and conn.laddr
               and conn.laddr.port in ports)


def test_slow_unfinished_requests_are_cut_off_by_nginx(stack):
    header_timeout = seconds(directive(stack.conf, "client_header_timeout"))
    keepalive = int(directive(stack.conf, "keepalive"))
    workers = os.cpu_count() or 1  # worker_processes auto
    marker = uuid.uuid4().hex[:12]
    token = stack.token()
    slow: list[socket.socket] = []
    stop_trickle = threading.Event()
    try:
        started = time.monotonic()
        for i in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
            # A complete request line and some headers, never the blank line that ends them.
            sock.sendall(f"GET /health?slowloris={marker}-{i} HTTP/1.1\r\n"
                         f"Host: deploy-test\r\nUser-Agent: slow\r\n".encode())
            slow.append(sock)
        opened = time.monotonic() - started

        def trickle() -> None:
            # Half of them send one more header line every 2 s (classic slowloris).
            n = 0
            while not stop_trickle.wait(2):
                n += 1
                for sock in slow[::2]:
                    with contextlib.suppress(OSError):
                        sock.send(f"X-Trickle-{n}: {n}\r\n".encode())

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()

        # Meanwhile normal requests through nginx answer quickly.
        latencies, backend_peak = [], 0
        while time.monotonic() - started < header_timeout - 1.5:
            t0 = time.monotonic()
            assert request(stack.port, "GET", "/health", source="127.4.0.1").status == 200
            assert request(stack.port, "GET", "/departments/", token=token,
                           source="127.4.0.1").status == 200
            latencies.append((time.monotonic() - t0) / 2)
            backend_peak = max(backend_peak, backend_connections(stack.backend_ports))
            time.sleep(0.2)
        assert latencies and max(latencies) < QUICK_ANSWER_SECONDS, latencies
        # The slow connections never reached a backend: what the backends hold is bounded by
        # nginx's idle keepalive pool plus our one request in flight.
        assert backend_peak <= keepalive * workers + 2, backend_peak

        # After client_header_timeout nginx closes every one of them (no answer, or 408).
        closed_after: dict[int, float] = {}
        selector = selectors.DefaultSelector()
        for index, sock in enumerate(slow):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        deadline = started + header_timeout + 15
        while len(closed_after) < len(slow) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:  # reset: reset_timedout_connection
                    data = b""
                assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
                closed_after[key.data] = time.monotonic() - started
                selector.unregister(key.fileobj)
        selector.close()
        stop_trickle.set()
        trickler.join(timeout=5)
        still_open = len(slow) - len(closed_after)
        assert still_open == 0, f"{still_open} slow connections still open after {deadline}s"
        earliest, latest = min(closed_after.values()), max(closed_after.values())
        trickled = [closed_after[i] for i in range(0, len(slow), 2)]
        print(f"\n[nginx slowloris] {SLOW_CLIENTS} unfinished requests opened in {opened:.2f}s; "
              f"normal requests meanwhile: {len(latencies) * 2}, max "
              f"{max(latencies) * 1000:.0f} ms; backend connections peak {backend_peak}; "
              f"slow ones closed by nginx after {earliest:.1f}-{latest:.1f}s "
              f"(trickling ones by {max(trickled):.1f}s; client_header_timeout "
              f"{header_timeout:g}s)")
        # Closed by the header timeout (trickling does not extend it), not earlier.
        assert earliest >= header_timeout - 1
        assert latest <= opened + header_timeout + 5
    finally:
        stop_trickle.set()
        for sock in slow:
            sock.close()

    # nginx logged them as timed out and never passed them on; the backends never saw them.
    entries = logged(stack.prefix, lambda e: f"slowloris={marker}-" in e["request"],
                     count=SLOW_CLIENTS)
    assert len(entries) == SLOW_CLIENTS
    assert {(entry["status"], entry["upstream"]) for entry in entries} <= {
        ("408", "-"), ("400", "-")}
    assert f"slowloris={marker}" not in stack.backend_log_text()


def test_500_concurrent_clients_all_get_answers(stack):
    token = stack.token()
    marker = uuid.uuid4().hex[:12]
    health = ("GET /health HTTP/1.1\r\nHost: deploy-test\r\nConnection: close\r\n"
              "X-Request-ID: many-{marker}-{i}\r\n\r\n")
    departments = ("GET /departments/ HTTP/1.1\r\nHost: deploy-test\r\nConnection: close\r\n"
                   "X-Request-ID: many-{marker}-{i}\r\n"
                   f"Authorization: Bearer {token}\r\n\r\n")
    results: list[tuple[int, float] | BaseException | None] = [None] * MANY_CLIENTS
    barrier = threading.Barrier(MANY_CLIENTS + 1)

    def client(i: int) -> None:
        payload = (departments if i % 2 else health).format(marker=marker, i=i).encode()
        try:
            barrier.wait(timeout=60)
            results[i] = raw_exchange(stack.port, payload, loopback_address(i, 1),
                                      timeout=MANY_CLIENTS_SECONDS)
        except Exception as exc:  # reported below
            results[i] = exc

    previous = threading.stack_size(512 * 1024)
    try:
        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(MANY_CLIENTS)]
        for thread in threads:
            thread.start()
    finally:
        threading.stack_size(previous)
    barrier.wait(timeout=60)
    started = time.monotonic()
    for thread in threads:
        thread.join(timeout=MANY_CLIENTS_SECONDS + 30)
    elapsed = time.monotonic() - started

    failures = [(i, result) for i, result in enumerate(results)
                if not isinstance(result, tuple) or result[0] != 200]
    latencies = sorted(result[1] for result in results if isinstance(result, tuple))
    entries = logged(stack.prefix, lambda e: e["rid"].startswith(f"many-{marker}-"),
                     count=MANY_CLIENTS)
    per_backend = {port: sum(1 for e in entries if e["upstream"] == f"127.0.0.1:{port}")
                   for port in stack.backend_ports}
    if latencies:
        print(f"\n[nginx {MANY_CLIENTS} clients] all done in {elapsed:.2f}s; latency p50 "
              f"{latencies[len(latencies) // 2] * 1000:.0f} ms, p99 "
              f"{latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms, max "
              f"{latencies[-1] * 1000:.0f} ms; failures {len(failures)}; per backend "
              f"{list(per_backend.values())}")
    assert not failures, failures[:10]
    assert elapsed < MANY_CLIENTS_SECONDS
    # Every one answered by a backend at the first attempt, none by nginx itself.
    assert len(entries) == MANY_CLIENTS
    assert {(entry["status"], entry["ustatus"]) for entry in entries} == {("200", "200")}
    assert sum(per_backend.values()) == MANY_CLIENTS and all(per_backend.values())


# ---- retries and forwarded headers, against stand-in backends -------------------------------

class FakeBackend:
    """A backend that records each request and then answers 201 or drops the connection."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                request_line, headers, _body, complete = read_message(
                    conn, body_until_close=False)
                if not complete:
                    return
                self.requests.append((request_line, headers))
                if self.answer:
                    conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
            except OSError:
                return
            # Dropping: close without a byte of an answer ("upstream prematurely closed").

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def fake_backends(*answers: bool):
    backends = [FakeBackend(answer) for answer in answers]
    try:
        yield backends
    finally:
        for backend in backends:
            backend.close()


def assert_api_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.raw
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    body = answer.json()
    assert body["code"] == code and body["message"]
    assert body["request_id"] == answer.headers["X-Request-ID"]


def test_a_post_sent_to_a_backend_is_never_retried_on_another():
    with fake_backends(False, False) as droppers, running_nginx(
            [backend.address for backend in droppers]) as (port, prefix):
        answer = request(port, "POST", "/registrations/", {"patient_id": 1, "schedule_id": 1})
        assert_api_error(answer, 502, "bad_gateway")
        assert answer.headers["Retry-After"] == "5"
        sent = [line for backend in droppers for line, _ in backend.requests]
        assert sent == ["POST /registrations/ HTTP/1.1"]  # one backend, once
        [entry] = logged(prefix, lambda e: True)
        assert "," not in entry["upstream"]


def test_an_idempotent_request_is_retried_once_on_another_backend():
    with fake_backends(False, False) as droppers, running_nginx(
            [backend.address for backend in droppers]) as (port, _prefix):
        answer = request(port, "GET", "/departments/1")
        assert_api_error(answer, 502, "bad_gateway")
        assert [len(backend.requests) for backend in droppers] == [1, 1]


def test_a_post_whose_connection_failed_goes_to_the_next_backend():
    refused = f"127.0.0.1:{free_port()}"  # nothing listens there
    with fake_backends(True) as (working,), running_nginx([refused, working.address]) as (
            port, prefix):
        for _ in range(2):  # round robin: one of the two tries the refused backend first
            answer = request(port, "POST", "/registrations/", {"patient_id": 1})
            assert answer.status == 201, answer.raw
        assert len(working.requests) == 2
        upstreams = [entry["upstream"] for entry in logged(prefix, lambda e: True, count=2)]
        assert f"{refused}, {working.address}" in upstreams, upstreams


def test_nginx_forwards_client_address_scheme_and_request_id():
    with fake_backends(True) as (backend,), running_nginx([backend.address]) as (port, _):
        request(port, "GET", "/health", source="127.5.0.7", headers={
            "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example", "X-Request-ID": "not a valid id!",
            "Connection": "close"})
        request(port, "GET", "/health", source="127.5.0.8",
                headers={"X-Request-ID": "client-chosen-id.1"})
        (line_1, first), (line_2, second) = backend.requests
    # HTTP/1.1 without "Connection: close": the backend connection can be kept and reused.
    assert line_1 == line_2 == "GET /health HTTP/1.1"
    assert "connection" not in first and "connection" not in second
    # ProxyFix (PROXY_FIX_COUNT=1) takes the rightmost address: the one nginx saw.
    assert first["x-forwarded-for"] == "203.0.113.9, 127.5.0.7"
    assert second["x-forwarded-for"] == "127.5.0.8"
    assert first["x-forwarded-proto"] == "http"
    # $host: the client's Host without its port (or the server name), never X-Forwarded-Host.
    assert first["x-forwarded-host"] == first["host"] == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f]{32}", first["x-request-id"])
    assert second["x-request-id"] == "client-chosen-id.1"
    # When nginx received each request (seconds): the app's request deadline counts from it.
    for headers in (first, second):
        stamp = float(headers["x-request-start"].removeprefix("t="))
        assert abs(stamp - time.time()) < 60
