#!/usr/bin/env bash
# Install Debian's Slurm and MUNGE so the training tests can run a real single-node cluster.
# Only installs (idempotently); the test session starts its own munged, slurmctld and slurmd
# (tests/slurm_cluster.py) with a generated slurm.conf and stops exactly those processes.
set -uo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge)
have_all() { command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; }

if ! have_all; then
  echo "Installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${PACKAGES[@]}" \
    || { apt-get update && apt-get install -y --no-install-recommends "${PACKAGES[@]}"; }
fi
have_all || { echo "FATAL: Slurm (sbatch, slurmctld, slurmd) or munged is not installed" >&2; exit 1; }
echo "Slurm ($(dpkg-query -W -f="\${Version}" slurmctld)) and munged are installed"
