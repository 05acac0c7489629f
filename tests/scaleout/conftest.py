"""A real PostgreSQL server and an `mlflow server` backed by it, both on 127.0.0.1, started and stopped
by the tests that use them (nothing has to be running beforehand; scripts/install.sh installs Debian's
postgresql where it is missing)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.tracking_server import DB_PASSWORD


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        pytest.fail(f"PostgreSQL's {name} is missing: run `bash scripts/install.sh` (it installs Debian's postgresql)")
    return found[-1]


def _as_db_user(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as Debian's `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def postgres_uri():
    """A throw-away PostgreSQL cluster (initdb in a temporary folder, password auth, 127.0.0.1 only):
    the SQLAlchemy URI of its database `mlflow`."""
    data = Path(tempfile.mkdtemp(prefix="pg-test-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    (data / "pw").write_text(DB_PASSWORD + "\n")
    os.chmod(data / "pw", 0o644)
    port, cluster = free_port(), data / "cluster"
    subprocess.run(_as_db_user([_pg_bin("initdb"), "-D", str(cluster), "-U", "mlflow", f"--pwfile={data / 'pw'}",
                                "--auth=scram-sha-256", "-E", "UTF8"]), check=True, capture_output=True)
    ctl = _pg_bin("pg_ctl")
    started = subprocess.run(_as_db_user([ctl, "-D", str(cluster), "-l", str(cluster / "server.log"), "-w", "-t", "120",
                                          "-o", f"-h 127.0.0.1 -p {port} -k {cluster}", "start"]),
                             capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        env = {**os.environ, "PGPASSWORD": DB_PASSWORD}
        subprocess.run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "mlflow"],
                       check=True, env=env, capture_output=True)
        # +psycopg2: SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3; we install psycopg2-binary.
        yield f"postgresql+psycopg2://mlflow:{DB_PASSWORD}@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(_as_db_user([ctl, "-D", str(cluster), "-m", "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(postgres_uri, tmp_path_factory):
    """`mlflow server` on 127.0.0.1 with runs in PostgreSQL and artifacts served from a temporary folder:
    its http URI."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port, log = free_port(), root / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", postgres_uri, "--artifacts-destination", str(root / "artifacts")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{uri}/health", proc, log)
        yield uri
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)  # the server and its worker processes, all started here
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
