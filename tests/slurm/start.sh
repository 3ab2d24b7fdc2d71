#!/usr/bin/env bash
# Brings up a one-node SLURM cluster on this machine for tests/test_slurm.py (run as root, after
# tests/slurm/install.sh; installs nothing). Writes /etc/slurm/slurm.conf, starts munged, slurmctld and
# slurmd (in that order), records their PIDs in $PID_DIR and waits until the node is idle.
# tests/slurm/stop.sh stops exactly those processes.
#
# /etc/slurm/slurm.conf is the only place the config can live: the executor plugin's job step drops
# SLURM_CONF from the environment before it calls srun. There is no accounting (no slurmdbd), so sacct
# cannot see jobs; Snakemake must poll with squeue, which keeps finished jobs for MinJobAge seconds.
set -euo pipefail

PARTITION=${CAMSWEEP_SLURM_PARTITION:-debug}
PID_DIR=/run/camsweep-slurm
LOG_DIR=/var/log/camsweep-slurm
SPOOL_DIR=/var/spool/camsweep-slurm
CONF=/etc/slurm/slurm.conf
TIMEOUT=${CAMSWEEP_SLURM_START_TIMEOUT:-60}

die() {
    echo "slurm start: $*" >&2
    for log in /var/log/munge/munged.log "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
        if [ -f "$log" ]; then
            echo "----- last lines of $log -----" >&2
            tail -n 40 "$log" >&2
        fi
    done
    if command -v scontrol >/dev/null; then
        echo "----- scontrol show node -----" >&2
        scontrol show node >&2 || true
    fi
    exit 1
}

alive() {  # alive NAME: the PID recorded for NAME is a live (not zombie) process called NAME
    local pidfile="$PID_DIR/$1.pid" pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -r "/proc/$pid/stat" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

wait_for_pidfile() {  # wait_for_pidfile NAME FILE: a daemon wrote its PID; copy it to $PID_DIR/NAME.pid
    local name=$1 file=$2
    for _ in $(seq 1 $((TIMEOUT * 5))); do
        if [ -s "$file" ]; then
            [ "$file" = "$PID_DIR/$name.pid" ] || cp "$file" "$PID_DIR/$name.pid"
            if alive "$name"; then
                echo "slurm start: $name running, PID $(cat "$PID_DIR/$name.pid")"
                return 0
            fi
        fi
        sleep 0.2
    done
    die "$name did not start within ${TIMEOUT}s (no live PID in $file)"
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
for tool in munged munge unmunge slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null || die "$tool not found; run tests/slurm/install.sh first"
done

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

if alive slurmctld && alive slurmd && munge_works; then
    echo "slurm start: already running (PIDs in $PID_DIR)"
    exit 0
fi
for name in slurmctld slurmd; do
    if alive "$name"; then
        die "$name is running (PID $(cat "$PID_DIR/$name.pid")) but the others are not; run tests/slurm/stop.sh first"
    fi
done
MARKER="# Written by tests/slurm/start.sh"
if [ -s "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARKER" && [ "${CAMSWEEP_SLURM_OVERWRITE:-0}" != 1 ]; then
    die "$CONF exists and was not written by this script; set CAMSWEEP_SLURM_OVERWRITE=1 to replace it"
fi

mkdir -p "$PID_DIR" "$LOG_DIR" "$SPOOL_DIR/slurmctld" "$SPOOL_DIR/slurmd" /etc/slurm
rm -f "$PID_DIR/slurmctld.pid" "$PID_DIR/slurmd.pid"
alive munged || rm -f "$PID_DIR/munged.pid"

# The node line as slurmd sees this machine ("NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105").
node=$(slurmd -C | head -n 1)
case "$node" in
    NodeName=*RealMemory=*) ;;
    *) die "unexpected output of 'slurmd -C': $node" ;;
esac

cat >"$CONF" <<CONF
$MARKER: a one-node test cluster, no accounting. Do not edit by hand.
ClusterName=camsweep-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# squeue shows a finished job for MinJobAge seconds; the plugin polls squeue only when this is at least
# 3 × slurm-init-seconds-before-status-checks, and its poll interval grows to at most 180 s.
MinJobAge=300
ReturnToService=2
SlurmdTimeout=60
StateSaveLocation=$SPOOL_DIR/slurmctld
SlurmdSpoolDir=$SPOOL_DIR/slurmd
SlurmctldPidFile=$PID_DIR/slurmctld.pid
SlurmdPidFile=$PID_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
echo "slurm start: wrote $CONF ($node, partition $PARTITION)"

# munge: the key, then the daemon (as user munge, like its packaged service). A munged that already
# answers (ours from an earlier start, or the system's) is used as it is; stop.sh only stops ours.
if munge_works; then
    echo "slurm start: munged already running$(alive munged && echo ", PID $(cat "$PID_DIR/munged.pid")" || echo " (not started here; stop.sh leaves it alone)")"
else
    if [ ! -s /etc/munge/munge.key ]; then
        echo "slurm start: creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged || { sleep 1; die "munged failed to start"; }
    wait_for_pidfile munged /run/munge/munged.pid
    munge_works || die "munge does not work (munge -n | unmunge failed)"
fi

# slurmctld (-c: start with an empty job queue), then slurmd; both daemonise and write their PID files.
slurmctld -c || die "slurmctld failed to start"
wait_for_pidfile slurmctld "$PID_DIR/slurmctld.pid"
slurmd || die "slurmd failed to start"
wait_for_pidfile slurmd "$PID_DIR/slurmd.pid"

for _ in $(seq 1 $((TIMEOUT * 2))); do
    state=$(sinfo --noheader --partition "$PARTITION" --Node --format '%t' 2>/dev/null | head -n 1 || true)
    if [ "$state" = idle ]; then
        echo "slurm start: node idle in partition $PARTITION"
        sinfo
        exit 0
    fi
    alive slurmctld || die "slurmctld exited"
    alive slurmd || die "slurmd exited"
    sleep 0.5
done
die "the node is not idle after ${TIMEOUT}s (sinfo state: '${state:-none}')"
