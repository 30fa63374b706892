"""A real single-node Slurm cluster for the training tests, started and stopped by the test session.

Debian's munged, slurmctld and slurmd run without systemd from a private directory: their own
MUNGE key and socket, their own ports and a generated slurm.conf, so nothing on the host (or a
second test session) is touched. `stop()` signals only the processes this object started.
A missing Slurm raises: the training tests fail loudly, they never skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

# A partition of GPU nodes on paper (8 GPUs each) for checking multi-node job scripts with --test-only.
PAPER_GPU_PARTITION = "gpu"
PAPER_GPU_NODES = 8
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sacct")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_line() -> str:
    """This host as slurmd sees it (`slurmd -C`), so the node registers without being drained."""
    first = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return first


def render_slurm_conf(*, root: Path, munge_socket: Path, node: str, ctld_port: int, slurmd_port: int) -> str:
    name = node.split()[0].split("=", 1)[1]
    return "\n".join([
        "ClusterName=lima-test",
        f"SlurmctldHost={name}(127.0.0.1)",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        # cred_expire is also how long Slurm holds a requeued job before it may start again (default 120 s).
        f"AuthInfo=socket={munge_socket},cred_expire=10",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={root / 'jobcomp.txt'}",
        "JobAcctGatherType=jobacct_gather/none",
        "MpiDefault=none",
        "ReturnToService=2",
        # Finished jobs stay visible to `scontrol show job` this long (the poller also reads jobcomp).
        "MinJobAge=600",
        "SchedulerParameters=sched_interval=1",
        "GresTypes=gpu",
        # Power saving that does nothing: the paper nodes below are "powered down" cloud nodes.
        "SuspendProgram=/bin/true",
        "ResumeProgram=/bin/true",
        "SuspendTime=3600",
        f"{node} State=UNKNOWN",
        # GPU nodes that exist on paper only (no slurmd answers for them): enough for `sbatch --test-only`
        # to check a multi-node GPU job script against a cluster shaped like the real one.
        f"NodeName=gpu[1-{PAPER_GPU_NODES}] NodeAddr=127.0.0.1 CPUs=64 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 "
        "ThreadsPerCore=1 RealMemory=1000000 Gres=gpu:8 State=CLOUD",
        f"PartitionName=debug Nodes={name} Default=YES MaxTime=INFINITE State=UP",
        f"PartitionName={PAPER_GPU_PARTITION} Nodes=gpu[1-{PAPER_GPU_NODES}] Default=NO MaxTime=INFINITE State=UP",
        "",
    ])


class SlurmCluster:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.processes: list[subprocess.Popen] = []

    def environment(self) -> dict:
        return {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> "SlurmCluster":
        missing = [name for name in DAEMONS if not shutil.which(name)]
        if missing:
            raise RuntimeError(f"Slurm is not installed ({', '.join(missing)} missing): run scripts/slurm.sh (make test does)")
        munge_dir = self.root / "munge"
        for directory in (munge_dir, self.root / "state", self.root / "spool"):
            directory.mkdir(parents=True, exist_ok=True)
        munge = pwd.getpwnam("munge")
        key = munge_dir / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}", "--force"], check=True, capture_output=True)
        for path, mode in ((munge_dir, 0o700), (key, 0o400)):
            os.chown(path, munge.pw_uid, munge.pw_gid)
            os.chmod(path, mode)
        # munged checks that every directory above its socket is not writable by others.
        os.chmod(self.root, 0o755)
        self._spawn(["munged", "--foreground", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
                     f"--pid-file={munge_dir / 'munged.pid'}", f"--log-file={munge_dir / 'munged.log'}",
                     f"--seed-file={munge_dir / 'munged.seed'}"], user=munge, log="munged.out")
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged socket")
        self.conf.write_text(render_slurm_conf(root=self.root, munge_socket=self.munge_socket, node=node_line(),
                                               ctld_port=free_port(), slurmd_port=free_port()))
        env = {**os.environ, **self.environment()}
        self._spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], env=env, log="slurmctld.out")
        self._wait(lambda: self._run("scontrol", "ping").returncode == 0, timeout, "slurmctld to answer")
        self._spawn(["slurmd", "-D", "-f", str(self.conf)], env=env, log="slurmd.out")
        self._wait(lambda: "idle" in self._run("sinfo", "-h", "-o", "%T").stdout, timeout, "the node to be idle")
        return self

    def _spawn(self, argv: list[str], *, log: str, env: dict | None = None, user=None) -> None:
        def demote():
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        out = (self.root / log).open("ab")
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.root,
                                   preexec_fn=demote if user else None, start_new_session=True)
        self.processes.append(process)

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **self.environment()}, timeout=30)

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}:\n{self.logs()}")
            if predicate():
                return
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")

    def job_pids(self, job_id: str) -> list[int]:
        """The job's processes on this node, as slurmd tracks them (`scontrol listpids`)."""
        listed = self._run("scontrol", "listpids", job_id)
        rows = [line.split() for line in listed.stdout.splitlines()[1:]]
        return [int(row[0]) for row in rows if row and row[0].isdigit()]

    def jobs_named(self, name: str) -> list[str]:
        """Every job id this cluster gave a job name: live ones (squeue) and ended ones (the job completion log)."""
        live = self._run("squeue", "-h", "--name", name, "-o", "%i").stdout.split()
        ended = [line.split("|")[0] for line in self._run("sacct", "-c", "-n", "-P", "-o", "JobID,JobName").stdout.splitlines()
                 if line.split("|")[1:2] == [name]]
        return sorted(set(live) | set(ended), key=int)

    def logs(self) -> str:
        parts = []
        for name in ("munged.out", "munge/munged.log", "slurmctld.log", "slurmctld.out", "slurmd.log", "slurmd.out"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the daemons this cluster started (and the job steps slurmd left), newest first."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        self.processes.clear()
