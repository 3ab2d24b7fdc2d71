#!/usr/bin/env bash
# Installs a single-node SLURM (controller, compute daemon, client tools) and munge from Debian's
# packages, for tests/test_slurm.py. Run as root; does nothing when everything is already installed.
# Bring the cluster up with tests/slurm/start.sh and down with tests/slurm/stop.sh.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "slurm: already installed (${packages[*]})"
    exit 0
fi
echo "slurm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# The packages' maintainer scripts try to start the daemons through the init system; on a machine
# without one that only prints a warning. start.sh starts them itself.
apt-get install -y --no-install-recommends "${packages[@]}"
