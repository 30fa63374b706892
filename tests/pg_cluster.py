"""A private PostgreSQL cluster for fault tests, which stop and restart it under load.

The shared server on 127.0.0.1:5432 serves the rest of the suite (and other people), so a test
that crashes PostgreSQL gets its own: Debian's initdb/pg_ctl on a temporary data directory, a
free port on loopback, its socket in the same directory and trust authentication. `stop()` ends
only the postmaster this object started. Missing binaries raise: the fault test fails loudly,
it never skips.
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

BIN_DIR = Path(os.environ.get("LIMA_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
OWNER = "postgres"  # initdb refuses to run as root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    def __init__(self, *, root: Path | None = None, port: int | None = None):
        # Not pytest's tmp_path: its directories are 0700 root, and the postgres user needs to get in.
        self.root = Path(root or tempfile.mkdtemp(prefix="lima-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{OWNER}@127.0.0.1:{self.port}/{database}"

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [str(BIN_DIR / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", OWNER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{self.logs()}")
        return result

    def start(self) -> "PostgresCluster":
        """initdb (first time only), then start the postmaster and wait until it accepts connections."""
        missing = [tool for tool in ("initdb", "pg_ctl", "pg_isready", "postgres") if not (BIN_DIR / tool).exists()]
        if missing:
            raise RuntimeError(f"PostgreSQL server binaries not found in {BIN_DIR} ({', '.join(missing)} missing): "
                               "install Debian's postgresql-15 (scripts/services.sh does) or set LIMA_PG_BIN_DIR")
        if not self.data.exists():
            self._init()
        self._pg("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60")
        self.running = True
        self.wait_ready()
        return self

    def _init(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OWNER)
            os.chmod(self.root, 0o755)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._pg("initdb", "-D", str(self.data), "--auth=trust", f"--username={OWNER}", "--encoding=UTF8", "--no-sync",
                 "--no-instructions")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "max_connections = 100\nlog_min_messages = warning\n")

    def is_ready(self) -> bool:
        argv = [str(BIN_DIR / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
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
