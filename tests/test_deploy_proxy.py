"""The login in front of the Dagster UI (deploy/nginx/, issue 17): a real nginx with the shipped proxy
snippet in front of a real dagster-webserver on 127.0.0.1.

The test server is plain HTTP on a free port of 127.0.0.1: the TLS server and the port-80 redirect of
the shipped site file (ssm-dagster.conf) are not exercised here, only checked by `nginx -t` with a
throwaway certificate. What is tested is what users meet: the password (a `$6$` hash made by
`openssl passwd -6`, as the site file says), the pages and GraphQL behind it, and the websocket of the
UI's live subscriptions through the proxy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = PROJECT_ROOT / "deploy" / "nginx"
REALM = "SSM pipeline (Dagster)"
USER = "alice"
PASSWORD = secrets.token_urlsafe(12)
START_TIMEOUT_SECONDS = 120
# Enough for the webserver to start: one asset, so the code location loads in a moment.
DEFINITIONS = """\
import dagster as dg


@dg.asset
def greeting() -> str:
    return "hello"


defs = dg.Definitions(assets=[greeting])
"""


def _nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("nginx is not installed: run `make install`, which installs Debian's nginx")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _htpasswd_line(user: str, password: str) -> str:
    """What the site file's `printf 'alice:%s\\n' "$(openssl passwd -6)"` writes (here from stdin)."""
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{user}:{hashed}\n"


def _temp_paths(folder: Path) -> str:
    """nginx's directives for its files, all inside folder (not the system's /var/lib/nginx)."""
    return "\n".join(
        f"    {name}_temp_path {folder / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def _nginx_conf(folder: Path, upstream_port: int, listen_port: int) -> str:
    # As root the workers would run as `nobody`, which cannot enter pytest's folders (root's, 0700)
    # to read the password file; the deployment's workers are www-data, reading /etc/ssm/htpasswd.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""\
{user}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{
    worker_connections 64;
}}
http {{
    access_log {folder / "access.log"};
{_temp_paths(folder)}
    include {NGINX_DIR / "ssm-dagster-upgrade-map.conf"};
    upstream ssm_dagster {{
        server 127.0.0.1:{upstream_port};
    }}
    server {{
        listen 127.0.0.1:{listen_port};
        auth_basic_user_file {folder / "htpasswd"};
        include {NGINX_DIR / "ssm-dagster-proxy.conf"};
    }}
}}
"""


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started in its own session, and everything left in its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    # The leader if it hung, and children that outlived it (the webserver's code server).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait_until_answering(url: str, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{what} did not answer within {START_TIMEOUT_SECONDS} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.2)


@dataclass(frozen=True)
class Webserver:
    url: str
    port: int
    pid: int


@dataclass(frozen=True)
class Proxy:
    url: str
    folder: Path  # nginx's prefix: nginx.conf, htpasswd, logs


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    """dagster-webserver on 127.0.0.1 (as the deployment runs it), default sqlite storage."""
    folder = tmp_path_factory.mktemp("webserver")
    (folder / "definitions.py").write_text(DEFINITIONS)
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSM_", "DAGSTER_"))}
    env["DAGSTER_HOME"] = str(home)
    port = _free_port()
    log = folder / "webserver.log"
    command = [str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "-f", str(folder / "definitions.py")],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: _stop ends the code server with it
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(f"{url}/server_info", process, log, "dagster-webserver")
        yield Webserver(url, port, process.pid)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def proxy(webserver: Webserver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """nginx (not the system's: its own prefix, pid and logs) in front of the webserver."""
    folder = tmp_path_factory.mktemp("nginx")
    (folder / "htpasswd").write_text(_htpasswd_line(USER, PASSWORD))
    port = _free_port()
    (folder / "nginx.conf").write_text(_nginx_conf(folder, webserver.port, port))
    log = folder / "nginx.stderr"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [_nginx_binary(), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # master and workers in one process group
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(url, process, log, "nginx")
        yield Proxy(url, folder)
    finally:
        _stop(process)


def _websocket_handshake(port: int, credentials: tuple[str, str] | None) -> tuple[str, bytes]:
    """Open the UI's GraphQL websocket (protocol graphql-ws) on 127.0.0.1:port; return the status line
    and, when switched, the server's answer to `connection_init`."""
    headers = [
        "GET /graphql HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: graphql-ws",
    ]
    if credentials:
        headers.append(f"Authorization: Basic {base64.b64encode(':'.join(credentials).encode()).decode()}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                break
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in status:
            return status, b""
        # One masked text frame (clients must mask; payload under 126 bytes).
        payload = json.dumps({"type": "connection_init", "payload": {}}).encode()
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        return status, sock.recv(4096)


def test_without_credentials_nothing_of_dagster_is_shown(proxy: Proxy) -> None:
    page = requests.get(proxy.url, timeout=30)
    assert page.status_code == 401
    assert page.headers["WWW-Authenticate"] == f'Basic realm="{REALM}"'
    assert "Dagster" not in page.text and "<script" not in page.text
    query = requests.post(f"{proxy.url}/graphql", json={"query": "{ version }"}, timeout=30)
    assert query.status_code == 401
    assert dg.__version__ not in query.text
    assert requests.get(f"{proxy.url}/server_info", timeout=30).status_code == 401
    status, _ = _websocket_handshake(int(proxy.url.rsplit(":", 1)[1]), credentials=None)
    assert " 401 " in status


def test_wrong_credentials_are_refused(proxy: Proxy) -> None:
    for credentials in ((USER, "not-the-password"), ("mallory", PASSWORD), (USER, "")):
        response = requests.get(proxy.url, auth=credentials, timeout=30)
        assert response.status_code == 401, credentials
        assert "Dagster" not in response.text
    assert re.search(r'user "alice": password mismatch', (proxy.folder / "error.log").read_text())


def test_right_credentials_reach_the_ui_and_graphql(proxy: Proxy) -> None:
    auth = (USER, PASSWORD)
    page = requests.get(proxy.url, auth=auth, timeout=60)
    assert page.status_code == 200
    assert "<title" in page.text and ">Dagster</title>" in page.text
    response = requests.post(f"{proxy.url}/graphql", json={"query": "{ version }"}, auth=auth, timeout=60)
    assert response.status_code == 200
    assert response.json() == {"data": {"version": dg.__version__}}
    # The password that nginx just accepted was stored as a SHA-512 crypt hash (openssl passwd -6).
    user, hashed = (proxy.folder / "htpasswd").read_text().strip().split(":", 1)
    assert user == USER and hashed.startswith("$6$")


def test_the_ui_websocket_passes_the_proxy(proxy: Proxy) -> None:
    # Without the Upgrade/Connection headers of the proxy snippet nginx would answer this handshake
    # itself (no 101) and the UI's live run pages would stay empty.
    status, answer = _websocket_handshake(int(proxy.url.rsplit(":", 1)[1]), credentials=(USER, PASSWORD))
    assert " 101 " in status
    assert b'{"type":"connection_ack"}' in answer


def test_webserver_listens_on_loopback_only(webserver: Webserver, proxy: Proxy) -> None:
    listening = [
        conn.laddr
        for conn in psutil.Process(webserver.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert webserver.port in {address.port for address in listening}
    assert {address.ip for address in listening} == {"127.0.0.1"}, listening


def test_nginx_accepts_the_generated_configuration(proxy: Proxy) -> None:
    checked = subprocess.run(
        [_nginx_binary(), "-t", "-p", str(proxy.folder), "-c", str(proxy.folder / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_nginx_accepts_the_shipped_site_file(tmp_path: Path) -> None:
    """ssm-dagster.conf as installed, with its placeholders and installed paths pointed at this folder
    (a throwaway self-signed certificate) and each `listen` moved to a free port of 127.0.0.1 (nginx -t
    binds them: ports 80 and 443 would need root and be free)."""
    self_signed = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    key, certificate = tmp_path / "ssm.key", tmp_path / "ssm.pem"
    subprocess.run(
        [*self_signed, "-subj", "/CN=ssm.example.edu", "-keyout", str(key), "-out", str(certificate)],
        capture_output=True,
        check=True,
    )
    (tmp_path / "htpasswd").write_text(_htpasswd_line(USER, PASSWORD))
    site = (NGINX_DIR / "ssm-dagster.conf").read_text()
    for installed, here in (
        ("/etc/nginx/snippets/", f"{NGINX_DIR}/"),
        ("/etc/ssl/certs/ssm.example.edu.pem", str(certificate)),
        ("/etc/ssl/private/ssm.example.edu.key", str(key)),
        ("/etc/ssm/htpasswd", str(tmp_path / "htpasswd")),
    ):
        assert installed in site, installed
        site = site.replace(installed, here)
    site, moved = re.subn(
        r"^(\s*listen\s+)\S+?(;|\s)", lambda m: f"{m[1]}127.0.0.1:{_free_port()}{m[2]}", site, flags=re.M
    )
    assert moved == 4  # 80 and 443, IPv4 and IPv6
    (tmp_path / "ssm-dagster.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n{_temp_paths(tmp_path)}\n    include {tmp_path / 'ssm-dagster.conf'};\n}}\n"
    )
    checked = subprocess.run(
        [_nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
