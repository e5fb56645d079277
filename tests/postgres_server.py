"""A throwaway PostgreSQL server for the tests: Debian's newest installed server, on a free port of 127.0.0.1.

`running_postgres()` initialises a cluster in a fresh temporary folder, starts it, creates a login role
and a database, and yields a `PostgresServer` whose `url` has the form of SSM_DAGSTER_POSTGRES_URL
(`postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE`). initdb and postgres refuse to run as root, so
as root (here and in CI) they run as Debian's `postgres` system user, which then owns the folder.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

POSTGRES_ROOT = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<major>/bin
SERVICE_USER = "postgres"  # the system user Debian's postgresql package creates
SUPERUSER = "postgres"  # the bootstrap superuser initdb creates (-U), reached over the Unix socket
START_TIMEOUT_SECONDS = 60
START_ATTEMPTS = 3  # a free port can be taken by another process before the server binds it


def postgres_bin_dir(root: Path = POSTGRES_ROOT) -> Path:
    """The bin folder of the newest PostgreSQL server installed under root.

    Raises:
        RuntimeError: no server is installed there (`make install` installs Debian's postgresql).
    """
    found = []
    for bin_dir in root.glob("*/bin"):
        major = bin_dir.parent.name
        if re.fullmatch(r"\d+", major) and all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl")):
            found.append((int(major), bin_dir))
    if not found:
        raise RuntimeError(
            f"no PostgreSQL server under {root}/*/bin (initdb, pg_ctl): "
            "run `make install`, which installs Debian's postgresql package"
        )
    return max(found)[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user() -> list[str]:
    """The command prefix that runs initdb, pg_ctl and postgres as a user they accept."""
    return ["runuser", "-u", SERVICE_USER, "--"] if os.geteuid() == 0 else []


def _run(
    command: list[str], cwd: Path, timeout: float = START_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess:
    # cwd: the service user may not be allowed into the caller's working directory (root's checkout).
    return subprocess.run(
        _as_service_user() + command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class PostgresServer:
    """A running test server: `url` for clients, `stop()` when done (safe to call twice)."""

    folder: Path
    bin_dir: Path
    port: int
    user: str
    password: str
    database: str
    stopped: bool = field(default=False, init=False)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError as error:
            return f"(no server log: {error})"

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back) and remove its folder."""
        if self.stopped:
            return
        self.stopped = True
        if (self.data_dir / "postmaster.pid").exists():
            _run(
                [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"],
                self.folder,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(user: str = "ssm", database: str = "dagster") -> PostgresServer:
    """Initialise, start and prepare a server; the caller stops it (or use `running_postgres`).

    Args:
        user: the login role to create (owner of `database`), with a random password.
        database: the database to create.

    Returns:
        The running server.

    Raises:
        RuntimeError: initdb failed or the server did not accept connections in time (with its log).
    """
    bin_dir = postgres_bin_dir()
    # Not under pytest's tmp_path: those folders are root's and mode 0700, closed to the service user.
    folder = Path(tempfile.mkdtemp(prefix="ssm-postgres-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVICE_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
    server = None
    try:
        initdb = _run(
            [
                str(bin_dir / "initdb"),
                "-D", str(folder / "data"),
                "-U", SUPERUSER,
                "--auth-local=trust",  # the superuser over the socket, which only the service user can open
                "--auth-host=scram-sha-256",  # TCP clients log in with a password, as in a deployment
                "--encoding=UTF8",
                "--locale=C",  # independent of the machine's LANG, which may name a locale not generated
                "--no-sync",
            ],
            folder,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
        for attempt in range(1, START_ATTEMPTS + 1):
            server = PostgresServer(folder, bin_dir, _free_port(), user, secrets.token_hex(16), database)
            started = _start(server)
            if started.returncode == 0:
                break
            server.log_file.unlink(missing_ok=True)  # read below; the next attempt starts a fresh log
            if "already in use" not in started.log or attempt == START_ATTEMPTS:
                raise RuntimeError(
                    f"PostgreSQL did not start on 127.0.0.1:{server.port} (pg_ctl exit {started.returncode}):\n"
                    f"{started.output}\nserver log:\n{started.log}"
                )
        _wait_until_ready(server)
        _create_role_and_database(server)
    except BaseException:
        if server is not None:
            server.stop()
        else:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    atexit.register(server.stop)  # a session that ends without its finalizers leaves no server behind
    return server


@dataclass(frozen=True)
class _StartAttempt:
    returncode: int
    output: str  # pg_ctl's own
    log: str  # the server's


def _start(server: PostgresServer) -> _StartAttempt:
    """Start the server and wait (pg_ctl -w) until it accepts connections on its socket; a non-zero
    return code if it exited during start-up (e.g. its port was taken meanwhile) or did not get ready."""
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-c port={server.port}",
            f"-c unix_socket_directories={server.folder}",
            "-c fsync=off",  # a throwaway cluster: durability buys nothing and costs time
            "-c full_page_writes=off",
        ]
    )
    started = _run(
        [
            str(server.bin_dir / "pg_ctl"), "start",
            "-D", str(server.data_dir),
            "-l", str(server.log_file),
            "-o", options,
            "-w", "-t", str(START_TIMEOUT_SECONDS),
        ],
        server.folder,
        timeout=START_TIMEOUT_SECONDS + 10,
    )  # fmt: skip
    return _StartAttempt(started.returncode, started.stdout + started.stderr, server.log_tail())


def _superuser_connection(server: PostgresServer):
    return psycopg2.connect(host=str(server.folder), port=server.port, user=SUPERUSER, dbname="postgres")


def _wait_until_ready(server: PostgresServer) -> None:
    """pg_ctl -w waited for the socket; also wait until TCP on 127.0.0.1 answers (a login is refused
    without a role: any answer from the server means it listens)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            psycopg2.connect(
                host="127.0.0.1", port=server.port, user="nobody", password="x", connect_timeout=2
            )
        except psycopg2.OperationalError as error:
            if "authentication failed" in str(error) or "does not exist" in str(error):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL on 127.0.0.1:{server.port} did not accept connections within "
                    f"{START_TIMEOUT_SECONDS} s ({error}); server log:\n{server.log_tail()}"
                ) from error
            time.sleep(0.2)
        else:  # pragma: no cover - trust for 'nobody' would mean a misconfigured cluster
            return


def _create_role_and_database(server: PostgresServer) -> None:
    connection = _superuser_connection(server)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            # psycopg2 quotes the password client-side, so a parameter works in this utility statement;
            # the names are ours (identifiers cannot be parameters).
            cursor.execute(f"CREATE ROLE {server.user} LOGIN PASSWORD %s", (server.password,))
            cursor.execute(f"CREATE DATABASE {server.database} OWNER {server.user}")
    finally:
        connection.close()


@contextmanager
def running_postgres(user: str = "ssm", database: str = "dagster") -> Iterator[PostgresServer]:
    """A started server for the duration of the block, stopped and removed afterwards."""
    server = start_postgres(user=user, database=database)
    try:
        yield server
    finally:
        server.stop()
