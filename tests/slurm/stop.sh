#!/usr/bin/env bash
# Stops the test cluster started by tests/slurm/start.sh: cancels jobs still queued, then ends exactly
# the daemons whose PIDs start.sh recorded (slurmd, slurmctld, munged; SIGTERM, SIGKILL after a grace
# period) and waits until each has exited. Safe to run when nothing is running.
set -euo pipefail

PID_DIR=/run/camsweep-slurm
GRACE=${CAMSWEEP_SLURM_STOP_TIMEOUT:-30}
status=0

alive() {  # alive PID NAME: PID is a live (not zombie) process called NAME
    [ -r "/proc/$1/stat" ] || return 1
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

if [ -s "$PID_DIR/slurmctld.pid" ] && alive "$(cat "$PID_DIR/slurmctld.pid")" slurmctld; then
    jobs=$(squeue --noheader --format '%i' 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        echo "slurm stop: cancelling jobs still queued: $(echo "$jobs" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        scancel $jobs || true
        for _ in $(seq 1 20); do
            [ -z "$(squeue --noheader --states=PENDING,RUNNING,COMPLETING --format '%i' 2>/dev/null || true)" ] && break
            sleep 0.5
        done
    fi
fi

for name in slurmd slurmctld munged; do
    pidfile="$PID_DIR/$name.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if ! alive "$pid" "$name"; then
        echo "slurm stop: $name (PID $pid) is not running"
        rm -f "$pidfile"
        continue
    fi
    echo "slurm stop: stopping $name (PID $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((GRACE * 5))); do
        alive "$pid" "$name" || break
        sleep 0.2
    done
    if alive "$pid" "$name"; then
        echo "slurm stop: $name (PID $pid) ignored SIGTERM for ${GRACE}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 25); do
            alive "$pid" "$name" || break
            sleep 0.2
        done
    fi
    if alive "$pid" "$name"; then
        echo "slurm stop: $name (PID $pid) is still running" >&2
        status=1
    else
        rm -f "$pidfile"
    fi
done
# munged removes its own PID file on exit; start.sh copied it, so /run/munge may hold a stale one.
rm -f /run/munge/munged.pid
exit "$status"
