#!/bin/sh
# tools/bench_ab.sh REV [ROUNDS] — is this tree's POST faster than REV's?
#
# This VM's capacity drifts by ±20 % within minutes (docs/decisions.md,
# "Fourth pass"), so two `make bench` runs some minutes apart do not
# compare. This builds REV in a git worktree (build/ab/<sha>), then runs
# tools/bench_http.sh's POST (BENCH_HTTP_ONLY=post: 64 connections,
# durable, each run with fresh processes and data) on REV's build and on
# this tree's in turn, ROUNDS times each (default 4), and prints every
# run and each side's mean: req/s, p50, p99 and the CPU microseconds per
# POST of the gateway, customers and broker processes. This tree's
# scripts drive both builds, so REV must take the same settings.
# A benchmark: it reports, it does not fail.
set -e
REV=${1:?usage: tools/bench_ab.sh REV [ROUNDS]}
ROUNDS=${2:-4}
SHA=$(git rev-parse --short "$REV")
TREE=build/ab/$SHA
make --no-print-directory build >/dev/null
if [ ! -d "$TREE" ]; then
    git worktree prune
    git worktree add --detach -f "$TREE" "$SHA" >/dev/null 2>&1
fi
make --no-print-directory -C "$TREE" build >/dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
echo "POST A/B: base $SHA ($TREE/build) against this tree (build), $ROUNDS rounds"
i=0
while [ $i -lt "$ROUNDS" ]; do
    for side in base new; do
        dir=build
        [ $side = base ] && dir=$TREE/build
        line=$(BENCH_HTTP_ONLY=post tools/bench_http.sh "$dir" | grep '^POST ' || true)
        [ -n "$line" ] || { echo "bench_ab: the $side run failed"; exit 1; }
        echo "$side $line" >>"$OUT"
        echo "$side $line" | awk '{ printf "  %-4s %6d req/s  p50 %5.1f ms  p99 %5.1f ms  CPU %4d us%s\n",
            $1, $3, $4 / 1000, $5 / 1000, $7 + $8 + $9, $6 ? "  [errors: invalid]" : "" }'
    done
    i=$((i + 1))
done
awk '{ n[$1]++; r[$1] += $3; p50[$1] += $4; p99[$1] += $5; cpu[$1] += $7 + $8 + $9 }
END {
    for (k = 1; k <= 2; k++) {
        s = k == 1 ? "base" : "new"
        printf "  %-4s mean %6d req/s  p50 %5.1f ms  p99 %5.1f ms  CPU %4d us\n", s,
            r[s] / n[s], p50[s] / n[s] / 1000, p99[s] / n[s] / 1000, cpu[s] / n[s]
    }
    printf "  new / base: %.2f x req/s, %.2f x CPU per POST\n", r["new"] / r["base"],
        cpu["new"] / cpu["base"]
}' "$OUT"
