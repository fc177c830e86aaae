#!/bin/sh
# tools/bench_ab.sh REV [ROUNDS] — is this tree's POST faster than REV's?
# (BENCH_AB=get: its two GETs, cached and uncached, instead.)
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
ONLY=${BENCH_AB:-post} # post, or get (cached and uncached GET)
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
echo "$ONLY A/B: base $SHA ($TREE/build) against this tree (build), $ROUNDS rounds"
i=0
while [ $i -lt "$ROUNDS" ]; do
    for side in base new; do
        dir=build
        [ $side = base ] && dir=$TREE/build
        lines=$(BENCH_HTTP_ONLY=$ONLY tools/bench_http.sh "$dir" | grep -E '^(POST|GET|GET_UNCACHED) ' || true)
        [ -n "$lines" ] || { echo "bench_ab: the $side run failed"; exit 1; }
        echo "$lines" | while read -r line; do
            echo "$side $line" >>"$OUT"
            echo "$side $line" | awk '{ printf "  %-4s %-12s %6d req/s  p50 %5.1f ms  p99 %5.1f ms  CPU %4d us%s\n",
                $1, $2, $3, $4 / 1000, $5 / 1000, $7 + $8 + $9, $6 ? "  [errors: invalid]" : "" }'
        done
    done
    i=$((i + 1))
done
awk '{ k = $1 " " $2; kinds[$2] = 1; n[k]++; r[k] += $3; p50[k] += $4; p99[k] += $5; cpu[k] += $7 + $8 + $9 }
END {
    for (kind in kinds) {
        for (j = 1; j <= 2; j++) {
            k = (j == 1 ? "base" : "new") " " kind
            printf "  %-17s mean %6d req/s  p50 %5.1f ms  p99 %5.1f ms  CPU %4d us\n", k,
                r[k] / n[k], p50[k] / n[k] / 1000, p99[k] / n[k] / 1000, cpu[k] / n[k]
        }
        b = "base " kind; w = "new " kind
        printf "  %s new / base: %.2f x req/s, %.2f x CPU per request\n", kind, r[w] / r[b],
            cpu[w] / cpu[b]
    }
}' "$OUT"
