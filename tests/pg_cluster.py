"""A private PostgreSQL cluster: Debian's initdb/pg_ctl on a data directory of ours, a free port on loopback.

The suite's own server (tests/services.py) is one, kept under var/test/services/ with password
authentication; a fault test that crashes PostgreSQL under load gets another, in a temporary
directory with trust authentication, so the suite's server is never the one it stops. `stop()`
ends only the postmaster this object started. Missing binaries raise: the tests fail loudly,
they never skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.timing import scaled

OWNER = "postgres"  # initdb refuses to run as root


def server_bin_dir() -> Path:
    """LIMA_PG_BIN_DIR, else the newest Debian server install, else what `pg_config --bindir` says."""
    if os.environ.get("LIMA_PG_BIN_DIR"):
        return Path(os.environ["LIMA_PG_BIN_DIR"])
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if installed:
        return installed[-1].parent
    config = shutil.which("pg_config")
    if config:
        return Path(subprocess.run([config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    return Path("/usr/lib/postgresql/15/bin")


BIN_DIR = server_bin_dir()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    def __init__(self, *, root: Path | None = None, port: int | None = None, password: str = ""):
        # Not pytest's tmp_path: its directories are 0700 root, and the postgres user needs to get in.
        self.root = Path(root or tempfile.mkdtemp(prefix="lima-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self.password = password  # empty: trust authentication on loopback (throwaway fault-test clusters)
        self.running = False

    def url(self, database: str = "postgres") -> str:
        secret = f":{self.password}" if self.password else ""
        return f"postgres://{OWNER}{secret}@127.0.0.1:{self.port}/{database}"

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [str(BIN_DIR / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", OWNER, "--", *argv]
        environment = {**os.environ, "PGPASSWORD": self.password} if self.password else None
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root, env=environment)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{self.logs()}")
        return result

    def start(self) -> "PostgresCluster":
        """initdb (first time only), then start the postmaster and wait until it accepts connections."""
        missing = [tool for tool in ("initdb", "pg_ctl", "pg_isready", "postgres") if not (BIN_DIR / tool).exists()]
        if missing:
            raise RuntimeError(f"PostgreSQL server binaries not found in {BIN_DIR} ({', '.join(missing)} missing): "
                               "install Debian's postgresql (python -m tests.services does) or set LIMA_PG_BIN_DIR")
        if not self.data.exists():
            self._init()
        self._pg("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60")
        self.running = True
        self.wait_ready()
        return self

    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OWNER)
            os.chmod(self.root, 0o755)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        auth = ["--auth=trust"]
        if self.password:
            secret = self.root / "pwfile"
            secret.write_text(self.password + "\n")
            if os.geteuid() == 0:
                os.chown(secret, owner.pw_uid, owner.pw_gid)
            auth = ["--auth-host=scram-sha-256", "--auth-local=scram-sha-256", f"--pwfile={secret}"]
        try:
            self._pg("initdb", "-D", str(self.data), *auth, f"--username={OWNER}", "--encoding=UTF8", "--no-sync",
                     "--no-instructions")
        finally:
            if self.password:
                secret.unlink(missing_ok=True)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "max_connections = 100\nlog_min_messages = warning\n")

    def is_ready(self) -> bool:
        argv = [str(BIN_DIR / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1", "-U", OWNER]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self.is_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the private PostgreSQL on port {self.port} did not accept connections:\n{self.logs()}")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: backends are killed without a checkpoint, and the next start runs recovery."""
        self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")
        self.running = False

    def restart(self, mode: str = "immediate", *, down_for: float = 0.0) -> float:
        """Stop with `mode`, stay down `down_for` seconds, start again; returns the seconds no
        connection was possible (stop issued → accepting connections again)."""
        began = time.monotonic()
        self.stop(mode)
        time.sleep(down_for)
        self.start()
        return time.monotonic() - began

    def create_database(self, name: str) -> None:
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", OWNER, name)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no server log)"

    def destroy(self) -> None:
        """Stop the server if it runs (a crash stop: nothing is kept) and remove its directory."""
        try:
            if self.running or (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
