"""Secrets come only from the environment, and the Dagster UI listens on loopback only (issue 7)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import yaml

from tests.conftest import pipeline_env
from tests.reliability import stop_group
from tests.seeded_deliveries import SMTP_PASSWORD, SMTP_USER, start_smtp

PROJECT_ROOT = Path(__file__).resolve().parent.parent
UI_PORT = 3000  # fixed in the Makefile's dev target
LOOPBACK = {"127.0.0.1", "::1"}
SECRET_KEY_WORDS = ("password", "passwd", "secret", "salt", "token", "api_key", "apikey", "credential")


def listening_sockets(root: psutil.Process) -> list[tuple[str, int, str]]:
    """(address, port, process) of every TCP socket in LISTEN state in the process tree of root."""
    found = []
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="tcp")
            name = " ".join(process.cmdline()[:3])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found += [(c.laddr.ip, c.laddr.port, name) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_make_dev_listens_on_loopback_only(tmp_path: Path) -> None:
    """`make dev`, the one documented way to start the Dagster UI (README, Makefile, the hint `ssm demo`
    prints), serves http://127.0.0.1:3000, and no process it starts (webserver, daemon, code server)
    listens on any address but 127.0.0.1 or ::1; read from the live sockets, not from the Makefile."""
    if port_in_use(UI_PORT):
        pytest.skip(f"port {UI_PORT} is taken by another program (a `make dev` already running?)")
    log = (tmp_path / "make-dev.log").open("w")
    # -o install: run the dev recipe as it is without re-checking the installation first.
    process = subprocess.Popen(
        ["make", "-o", "install", "dev"],
        cwd=PROJECT_ROOT,
        env=pipeline_env(tmp_path / "data"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so that the whole tree can be stopped
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                pytest.fail(f"make dev exited: {(tmp_path / 'make-dev.log').read_text()[-2000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{UI_PORT}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the Dagster UI did not answer within 240 s")
            time.sleep(1)
        sockets = listening_sockets(psutil.Process(process.pid))
        assert ("127.0.0.1", UI_PORT) in {(address, port) for address, port, _ in sockets}
        assert [s for s in sockets if s[0] not in LOOPBACK] == []
    finally:
        stop_group(process, grace_seconds=30)
        log.close()


# What the code location resolves, first with no secret in the environment, then with them set.
RESOLVE = """
import json, os, sys
import dagster as dg
from pipelines.lib.mail.messages import build_report_message, send_smtp

def resolved(definitions):
    with dg.build_resources({k: definitions.resources[k] for k in ("survey", "mailer")}) as r:
        try:
            refusal = r.survey.require_salt() and None
        except dg.Failure as failure:
            refusal = failure.description
        message = build_report_message(
            subject="t", sender="a@example.edu", recipients=["b@example.edu"], html="<p>t</p>", text="t",
            images={}, attachment_name="t.pdf", attachment_pdf=b"%PDF-1.4\\n%%EOF\\n",
        )
        outcome = send_smtp(message, r.mailer.smtp(), attempts=1)
        return {"salt": r.survey.response_salt, "user": r.mailer.smtp_user,
                "password": r.mailer.smtp_password, "refusal": refusal, "smtp": outcome.detail}

from pipelines.definitions import defs
unset = resolved(defs)
os.environ.update(json.loads(sys.argv[1]))
from pipelines.defs.resources import defs as resource_defs
print(json.dumps({"unset": unset, "set": resolved(resource_defs())}))
"""


def test_secrets_come_only_from_the_environment(tmp_path: Path) -> None:
    """With SSM_RESPONSE_SALT and SSM_SMTP_PASSWORD absent from the environment, the code location has
    no salt and no password (nothing in the code or a config file supplies one): the ingest refuses with
    a message naming the variable, and the SMTP login fails; set in the environment, both are used."""
    controller, handler, port = start_smtp()
    try:
        env = pipeline_env(tmp_path / "data")
        env.pop("SSM_RESPONSE_SALT")
        env |= {"SSM_SMTP_HOST": "127.0.0.1", "SSM_SMTP_PORT": str(port), "SSM_SMTP_SECURITY": "none",
                "SSM_SMTP_USER": SMTP_USER}  # fmt: skip
        secrets = {"SSM_RESPONSE_SALT": "salt-from-env-7Qx", "SSM_SMTP_PASSWORD": SMTP_PASSWORD}
        result = subprocess.run(
            [sys.executable, "-c", RESOLVE, json.dumps(secrets)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    unset, given = outcome["unset"], outcome["set"]
    assert unset["salt"] == "" and unset["password"] == "" and unset["user"] == SMTP_USER
    assert unset["refusal"].startswith("SSM_RESPONSE_SALT is not set.")
    assert "SMTPAuthenticationError" in unset["smtp"] and "535" in unset["smtp"]
    assert given["salt"] == secrets["SSM_RESPONSE_SALT"] and given["password"] == SMTP_PASSWORD
    assert given["refusal"] is None and given["smtp"].startswith("accepted by 127.0.0.1")
    # smtplib tries PLAIN, then LOGIN, with the empty password; then one login with the password.
    results = [ok for _, ok in handler.logins]
    assert results[-1] is True and not any(results[:-1]) and len(results) >= 2


def secret_settings(value: Any, path: str = "") -> list[str]:
    """Keys that name a secret and hold a value in a parsed config file (placeholders and env refs allowed)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if any(word in str(key).lower() for word in SECRET_KEY_WORDS) and isinstance(item, str | int):
                text = str(item).strip()
                if text and "env_var(" not in text and "change-me" not in text and not text.startswith("$"):
                    found.append(f"{where}={text}")
            found += secret_settings(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secret_settings(item, f"{path}[{index}]")
    return found


def test_no_config_file_in_the_repository_holds_a_secret() -> None:
    """No tracked configuration file (YAML, TOML, JSON, INI-style, .env*) gives a salt, password, token
    or key a value; .env.example has only placeholders and no .env file is tracked."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    names = [n for n in tracked if n]
    assert [n for n in names if Path(n).name.startswith(".env") and Path(n).name != ".env.example"] == []
    problems = []
    for name in names:
        path = PROJECT_ROOT / name
        suffix = path.suffix.lower()
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if suffix in (".yml", ".yaml"):
            for document in yaml.safe_load_all(text):
                problems += [f"{name}: {p}" for p in secret_settings(document)]
        elif suffix == ".toml":
            problems += [f"{name}: {p}" for p in secret_settings(tomllib.loads(text))]
        elif suffix == ".json":
            problems += [f"{name}: {p}" for p in secret_settings(json.loads(text))]
        elif suffix in (".ini", ".cfg", ".env") or Path(name).name.startswith(".env"):
            pairs = dict(
                line.split("=", 1)
                for line in text.splitlines()
                if "=" in line and not line.lstrip().startswith("#")
            )
            problems += [f"{name}: {p}" for p in secret_settings(pairs)]
    assert problems == []
    example = dict(line.split("=", 1) for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))  # fmt: skip
    assert example["SSM_RESPONSE_SALT"].startswith("change-me") and example["SSM_SMTP_PASSWORD"] == ""
