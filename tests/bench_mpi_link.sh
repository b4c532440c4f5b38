#!/bin/sh
# bench_mpi over a real (virtual) network link: two processes in two
# network namespaces of their own, joined by a veth pair whose both ends
# are shaped by tc's token bucket to RATE (default 10gbit), talking TCP.  Needs root; creates and removes only its own
# namespaces (alexnet-bench0, alexnet-bench1).  Never part of make check.
#
#   sudo tests/bench_mpi_link.sh [RATE] [PRESET] [BATCH]
#   (from the build directory; BENCH_* variables as for bench_mpi)
set -eu
rate=${1:-10gbit}
preset=${2:-alexnet-owt}
batch=${3:-32}
bench=$(pwd)/tests/bench_mpi
[ -x "$bench" ] || { echo "build tests/bench_mpi first (make tests/bench_mpi)" >&2; exit 1; }
ns0=alexnet-bench0 ns1=alexnet-bench1
cleanup() { ip netns del $ns0 2>/dev/null || :; ip netns del $ns1 2>/dev/null || :; }
trap cleanup EXIT
cleanup
ip netns add $ns0
ip netns add $ns1
ip link add anb0 netns $ns0 type veth peer name anb1 netns $ns1
ip -n $ns0 addr add 10.213.0.1/24 dev anb0
ip -n $ns1 addr add 10.213.0.2/24 dev anb1
for ns in $ns0 $ns1; do ip -n $ns link set lo up; done
ip -n $ns0 link set anb0 up
ip -n $ns1 link set anb1 up
# a bucket of 4 MB: at 10 Gb/s, more than one timer tick's worth
tc -n $ns0 qdisc add dev anb0 root tbf rate "$rate" burst 4mb latency 20ms
tc -n $ns1 qdisc add dev anb1 root tbf rate "$rate" burst 4mb latency 20ms
echo "link: $rate each way (tc tbf on both ends of a veth pair)"
net=10.213.0.0/24

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# the PMIx server in mpirun must take connections from the other namespace
export PMIX_MCA_ptl_tcp_remote_connections=1 PMIX_MCA_ptl_tcp_if_include=$net
ip netns exec $ns0 mpirun --bind-to core --mca btl tcp,self \
        --mca btl_tcp_if_include $net --mca oob_tcp_if_include $net \
        -np 1 "$bench" "$preset" "$batch" : \
        -np 1 ip netns exec $ns1 "$bench" "$preset" "$batch"
