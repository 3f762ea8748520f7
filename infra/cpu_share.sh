#!/bin/sh
# Runs a command with the CPU a Lambda function of MEMORY_MB gets: Lambda gives CPU in
# proportion to memory, one vCPU at 1,769 MB (so 128 MB is 7.2 % of one). Emulated with a
# CFS quota on a cgroup of its own (v1 `cpu` controller or v2 `cpu.max`); needs root.
#
#   infra/cpu_share.sh MEMORY_MB COMMAND [ARG...]
#
# For work that lasts many quota periods (100 ms) the wall time converges to CPU time ÷ share;
# a burst shorter than one period's quota runs at full speed, as it may on Lambda.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 MEMORY_MB COMMAND [ARG...]" >&2
    exit 2
fi
mb=$1
shift
case $mb in
    '' | *[!0-9]*) echo "$0: MEMORY_MB must be a number of megabytes, got '$mb'" >&2; exit 2 ;;
esac
if [ "$mb" -lt 128 ] || [ "$mb" -gt 10240 ]; then
    echo "$0: Lambda memory is 128 to 10240 MB, got $mb" >&2
    exit 2
fi
period=100000
quota=$((mb * period / 1769))
name="lambda-cpu-share-$mb-$$"
if [ -w /sys/fs/cgroup/cpu ] && [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    dir=/sys/fs/cgroup/cpu/$name
elif [ -w /sys/fs/cgroup ] && [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    dir=/sys/fs/cgroup/$name
else
    echo "$0: no writable cgroup CPU controller here (run as root on Linux)" >&2
    exit 1
fi
mkdir "$dir"
# The group goes when this script does, whatever ends it.
trap 'rmdir "$dir" 2>/dev/null || true' EXIT
if [ -e "$dir/cpu.cfs_quota_us" ]; then
    echo "$period" > "$dir/cpu.cfs_period_us" && echo "$quota" > "$dir/cpu.cfs_quota_us"
else
    echo "$quota $period" > "$dir/cpu.max"
fi || { echo "$0: cannot set the CPU quota of $dir (is the cpu controller enabled?)" >&2; exit 1; }
echo "$0: $mb MB = $quota µs of CPU per $period µs ($(awk "BEGIN { printf \"%.1f\", $mb * 100 / 1769 }") % of one vCPU)" >&2
# The command runs in a child that joins the cgroup first; the group is removed when it ends.
status=0
sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' cpu-share "$dir" "$@" || status=$?
exit $status
