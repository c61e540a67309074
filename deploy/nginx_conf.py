"""deploy/nginx.conf and deploy/hospital-api@.service, made runnable on this host.

The reverse-proxy tests (tests/deploy) and the rush benchmark (bench/rush.py) run what deploy/
describes: nginx from deploy/nginx.conf with only its ports, paths and backends replaced, and
waitress with the unit file's flags. """
from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
UNIT_FILE = ROOT / "deploy" / "hospital-api@.service"


def find_nginx() -> str | None:
    explicit = os.environ.get("NGINX_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("nginx")
    if found:
        return found
    for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(path, os.X_OK):
            return path
    return None


def directive(conf: str, name: str) -> str:
    """The value of the first `name value;` in an nginx configuration."""
    match = re.search(rf"^\s*{re.escape(name)}\s+([^;]+);", conf, re.MULTILINE)
    assert match, f"deploy/nginx.conf has no {name} directive"
    return match.group(1).strip()


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert match, f"unexpected nginx time {value!r}"
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else float(number)


def waitress_flags(port: int) -> list[str]:
    """The waitress-serve options of deploy/hospital-api@.service, for a process on `port`."""
    text = UNIT_FILE.read_text().replace("\\\n", " ")
    match = re.search(r"^ExecStart=\S*waitress-serve\s+(.*)$", text, re.MULTILINE)
    assert match, "no waitress-serve ExecStart line in deploy/hospital-api@.service"
    flags = match.group(1).replace("%i", str(port)).split()
    assert flags[-2:] == ["--call", "app:create_app"], flags
    assert f"--listen=127.0.0.1:{port}" in flags, flags
    return flags


def substitute(pattern: str, replacement: str, text: str) -> str:
    """re.sub of a pattern that must match exactly once (else deploy/nginx.conf changed)."""
    result, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert found == 1, f"deploy/nginx.conf: {found} matches of {pattern!r} instead of one"
    return result


def render_nginx_conf(prefix: Path, port: int, backends: list[str]) -> Path:
    """deploy/nginx.conf with the test's port, backends and paths under `prefix`."""
    conf = NGINX_CONF.read_text()
    if os.geteuid() == 0:
        # As root the master binds and the workers drop to `user`; keep the configured one
        # when it exists here, the prefix is made readable for it.
        user = directive(conf, "user").split()[0]
        try:
            pwd.getpwnam(user)
        except KeyError:
            conf = substitute(r"^user\s+[^;]+;", "user nobody;", conf)
    else:
        # Not root: the workers run as this user anyway and nginx would warn about `user`.
        conf = substitute(r"^user\s+[^;]+;\n", "", conf)
    conf = substitute(r"^pid\s+[^;]+;", "pid nginx.pid;", conf)
    conf = substitute(r"^error_log\s+[^;]+;", "error_log logs/error.log info;", conf)
    conf = substitute(r"^(\s*)access_log\s+\S+\s+hospital;",
                      r"\1access_log logs/access.log hospital;", conf)
    # The upstream's `server 127.0.0.1:PORT ...;` lines become one per test backend, with the
    # same parameters, where the first one was.
    server_lines = list(re.finditer(r"^(\s*)server\s+127\.0\.0\.1:\d+(\s[^;]*)?;\n", conf,
                                    re.MULTILINE))
    assert server_lines, "no `server 127.0.0.1:PORT ...;` line in the upstream block"
    indent, options = server_lines[0].group(1), server_lines[0].group(2) or ""
    servers = "".join(f"{indent}server {address}{options};\n" for address in backends)
    for line in reversed(server_lines):
        conf = conf[:line.start()] + (servers if line is server_lines[0] else "") + \
            conf[line.end():]
    conf = substitute(r"^(\s*)listen\s+80\b", rf"\1listen 127.0.0.1:{port}", conf)
    # Debian's nginx keeps its temporary files in /var/lib/nginx; these go under the prefix.
    temp_paths = "".join(f"    {kind}_temp_path temp/{kind};\n" for kind in (
        "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = substitute(r"^(http\s*\{\n)", r"\1" + temp_paths, conf)
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "temp").mkdir(exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


# ---- processes ------------------------------------------------------------------------------

def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a child and everything it started (nginx workers), then reap it."""
    if process is None or process.poll() is not None:
        return
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)
    for child in descendants:
        with contextlib.suppress(psutil.Error):
            child.kill()


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_nginx(backends: list[str], edit=None):
    """nginx from deploy/nginx.conf on a free port in front of `backends`: (port, prefix).

    `edit`, when given, changes the rendered configuration's text before nginx starts.
    """
    prefix = Path(tempfile.mkdtemp(prefix="hospital-nginx-"))
    prefix.chmod(0o755)  # workers running as the unprivileged `user` reach temp/ and logs/
    port = free_port()
    conf = render_nginx_conf(prefix, port, backends)
    if edit is not None:
        conf.write_text(edit(conf.read_text()))
    output = prefix / "logs" / "nginx.out"
    process = None
    try:
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [find_nginx() or "nginx", "-p", f"{prefix}/", "-c", str(conf), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start (exit {process.poll()}):\n"
                                   f"{tail(output)}\n{tail(prefix / 'logs' / 'error.log')}")
            time.sleep(0.1)
        yield port, prefix
    finally:
        stop_process(process)
        shutil.rmtree(prefix, ignore_errors=True)
