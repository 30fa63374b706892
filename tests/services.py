"""The suite's own PostgreSQL and Redis: private instances under var/test/services/, never the machine's.

`python -m tests.services start` (what `make test` runs) installs the server packages when they
are missing, then starts (or finds running) one PostgreSQL cluster and one Redis server of this
checkout, each on a free loopback port with a random password, and writes the URLs the suite
uses to var/test/services/env. Two checkouts on one machine get two pairs of servers, and a
system PostgreSQL or Redis, if any, is never used, stopped or changed. `stop` ends only the
servers this checkout started (found by their pid files). Nothing here skips: a server that
cannot be installed or started is a failure with its log.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from tests import pg_cluster
from tests.timing import scaled

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("LIMA_TEST_SERVICES_DIR", ROOT / "var" / "test" / "services"))
STATE = HOME / "state.json"
ENV_FILE = HOME / "env"
DATABASE = "lima"


def _say(message: str) -> None:
    print(f"services: {message}", flush=True)


def _port_free(port: int) -> bool:
    """Could a server listen here? SO_REUSEADDR as servers set it, so a port we just closed (TIME_WAIT) counts as free."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ensure_installed() -> None:
    """Debian's postgresql and redis-server, installed when their binaries are missing (root or passwordless sudo)."""
    missing = []
    if not (pg_cluster.BIN_DIR / "initdb").exists():
        missing.append("postgresql")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if not missing:
        return
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None or not shutil.which("apt-get"):
        raise SystemExit(f"services: {', '.join(missing)} missing and cannot be installed here (needs apt-get as root): "
                         "install them, or set LIMA_PG_BIN_DIR to a PostgreSQL server's bin directory")
    _say(f"installing {', '.join(missing)}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(install, env=environment).returncode != 0:
        subprocess.run([*prefix, "apt-get", "update"], env=environment, check=True)
        subprocess.run(install, env=environment, check=True)
    pg_cluster.BIN_DIR = pg_cluster.server_bin_dir()


def _state() -> dict:
    """Ports and password of this checkout's servers, kept so that a restart comes back at the same address."""
    if STATE.exists():
        state = json.loads(STATE.read_text())
    else:
        state = {"password": secrets.token_urlsafe(18)}
    for key in ("pg_port", "redis_port"):
        if key not in state:
            state[key] = pg_cluster.free_port()
    return state


def _save(state: dict) -> None:
    HOME.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state))
    STATE.chmod(0o600)


def _cluster(state: dict) -> pg_cluster.PostgresCluster:
    return pg_cluster.PostgresCluster(root=HOME / "postgres", port=state["pg_port"], password=state["password"])


def start_postgres(state: dict) -> None:
    cluster = _cluster(state)
    if cluster.is_ready():
        return
    pid_file = cluster.data / "postmaster.pid"
    if pid_file.exists():
        if _pid_alive(pid_file):  # still starting up
            cluster.wait_ready()
            return
        pid_file.unlink()  # left behind by a crash or a reboot
    if not _port_free(cluster.port):
        if cluster.data.exists():
            raise SystemExit(f"services: port {cluster.port} of this checkout's PostgreSQL is taken by another program")
        state["pg_port"] = cluster.port = pg_cluster.free_port()
        _save(state)
    fresh = not cluster.data.exists()
    cluster.start()
    if fresh:
        cluster.create_database(DATABASE)
    _say(f"PostgreSQL {cluster.data} on 127.0.0.1:{cluster.port}")


def _pid_alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except PermissionError:
        return True  # alive, owned by another user (the postgres account)
    except (OSError, ValueError, IndexError):
        return False
    return True


def _redis_ping(state: dict) -> bool:
    argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(state["redis_port"]), "--no-auth-warning", "-a", state["password"], "ping"]
    return subprocess.run(argv, capture_output=True, text=True).stdout.strip() == "PONG"


def start_redis(state: dict) -> None:
    if _redis_ping(state):
        return
    directory = HOME / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    if not _port_free(state["redis_port"]):
        state["redis_port"] = pg_cluster.free_port()
        _save(state)
    # Nothing on disk: the suite's Redis is a broker and result store that tests may stop and start again.
    config = (f"port {state['redis_port']}\nbind 127.0.0.1\nrequirepass {state['password']}\nsave \"\"\nappendonly no\n"
              f"daemonize yes\npidfile {directory / 'redis.pid'}\nlogfile {directory / 'redis.log'}\ndir {directory}\n")
    (directory / "redis.conf").write_text(config)
    (directory / "redis.conf").chmod(0o600)
    subprocess.run(["redis-server", str(directory / "redis.conf")], check=True)
    deadline = time.monotonic() + scaled(30)
    while not _redis_ping(state):
        if time.monotonic() > deadline:
            log = (directory / "redis.log").read_text(errors="replace")[-2000:] if (directory / "redis.log").exists() else ""
            raise SystemExit(f"services: Redis did not start on 127.0.0.1:{state['redis_port']}\n{log}")
        time.sleep(0.1)
    _say(f"Redis on 127.0.0.1:{state['redis_port']}")


def environment(state: dict) -> dict[str, str]:
    redis = f"redis://:{state['password']}@127.0.0.1:{state['redis_port']}"
    return {
        "DATABASE_URL": _cluster(state).url(DATABASE),
        "CELERY_BROKER_URL": f"{redis}/0",
        "CELERY_RESULT_BACKEND": f"{redis}/1",
    }


def database_url(database: dict, *, name: str | None = None) -> str:
    """DATABASE_URL for a Django database settings dict (a worker or server the tests start), password included."""
    secret = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    return f"postgres://{database['USER']}{secret}@{database['HOST']}:{database['PORT']}/{name or database['NAME']}"


def start() -> dict[str, str]:
    ensure_installed()
    state = _state()
    _save(state)
    start_postgres(state)
    start_redis(state)
    values = environment(state)
    ENV_FILE.write_text("".join(f"export {key}='{value}'\n" for key, value in values.items()))
    ENV_FILE.chmod(0o600)
    return values


def stop() -> None:
    if not STATE.exists():
        return
    state = json.loads(STATE.read_text())
    cluster = _cluster(state)
    if (cluster.data / "postmaster.pid").exists():
        cluster.stop("fast")
        _say("PostgreSQL stopped")
    pid_file = HOME / "redis" / "redis.pid"
    if pid_file.exists() and _pid_alive(pid_file):
        os.kill(int(pid_file.read_text().split()[0]), 15)
        _say("Redis stopped")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command == "start":
        start()
    elif command == "stop":
        stop()
    else:
        raise SystemExit("usage: python -m tests.services [start|stop]")
