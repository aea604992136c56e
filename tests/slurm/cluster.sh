#!/usr/bin/env bash
# A real one-node SLURM cluster (Debian slurm-wlm) for the workflow's cluster tests.
#   tests/slurm/cluster.sh install          apt-get install slurm-wlm munge (needs root)
#   tests/slurm/cluster.sh start STATE_DIR  write slurm.conf, start munged, slurmctld, slurmd
#   tests/slurm/cluster.sh stop STATE_DIR   stop the daemons by the PIDs in their pid files
#                                           (munged only if start started it)
# The node advertises two generic "gpu" resources (no devices behind them) so that jobs asking
# for --gpus=1 are scheduled as on a GPU cluster; the jobs themselves run on the CPU.
set -euo pipefail

cmd=${1:?usage: cluster.sh install|start|stop [STATE_DIR]}
state=${2:-/tmp/nidecode-slurm}
host=$(hostname -s)

case "$cmd" in
install)
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
    ;;
start)
    mkdir -p "$state"/{spool,ctld,log} /run/munge /etc/slurm
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    fi
    chown munge:munge /run/munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged
        # Ours to stop (stop reads the PID munged wrote); a munged already running is left be.
        echo /run/munge/munged.pid > "$state/munged.pidfile"
    fi
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    # Must be the default path: the plugin's job step strips SLURM_CONF before its srun.
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MinJobAge=600
MailProg=/bin/true
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
    # Two placeholder device files stand in for GPUs: jobs get a GPU allocation, not a GPU.
    : > "$state/fake-gpu0"
    : > "$state/fake-gpu1"
    cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=${host} Name=gpu File=$state/fake-gpu[0-1]
CONF
    slurmctld -i
    slurmd
    for _ in $(seq 60); do
        if [ "$(sinfo -h -o %t 2>/dev/null | head -1)" = "idle" ]; then
            echo "slurm: node $host idle"
            exit 0
        fi
        sleep 0.5
    done
    echo "slurm: node did not become idle" >&2
    sinfo >&2 || true
    tail -n 20 "$state"/log/*.log >&2 || true
    exit 1
    ;;
stop)
    pidfiles=("$state/slurmd.pid" "$state/slurmctld.pid")
    if [ -s "$state/munged.pidfile" ]; then
        pidfiles+=("$(cat "$state/munged.pidfile")")
    fi
    pids=()
    for pidfile in "${pidfiles[@]}"; do
        if [ -s "$pidfile" ]; then
            pids+=("$(cat "$pidfile")")
            kill "${pids[-1]}" 2>/dev/null || true
        fi
    done
    # Wait (up to 15 s) until they are gone, so that a next start finds the ports free.
    for _ in $(seq 30); do
        alive=0
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
            then
                alive=1
            fi
        done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
