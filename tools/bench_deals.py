"""Helpers of tools/bench_http.sh for the opportunities figures (make bench).

  bench_deals.py ids BASE KEY OUT MAX
      writes the ids of up to MAX deals (GET /api/v1/opportunities, pages
      of 200 followed by next_cursor) to OUT, one a line; prints how many.
  bench_deals.py time BASE KEY PATH REPEAT
      GETs PATH REPEAT times (after one warm-up) and prints
      "<median ms> <min ms> <status of the last answer> <bytes>".
  bench_deals.py count BASE KEY
      prints the number of deals the default pipeline's funnel counts now
      (the sum of its stages' current counts), or "?" when it does not answer.
"""

import json
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def get(base, key, path, timeout=300):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ids(base, key, out, most):
    found, cursor = [], None
    while len(found) < most:
        query = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        status, raw = get(base, key, "/api/v1/opportunities?" + urllib.parse.urlencode(query))
        if status != 200:
            break
        page = json.loads(raw)
        found += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    with open(out, "w") as f:
        f.write("".join(i + "\n" for i in found[:most]))
    print(len(found[:most]))


def timed(base, key, path, repeat):
    get(base, key, path)
    times, status, size = [], 0, 0
    for _ in range(repeat):
        start = time.perf_counter()
        status, raw = get(base, key, path)
        times.append((time.perf_counter() - start) * 1000)
        size = len(raw)
    print(f"{statistics.median(times):.2f} {min(times):.2f} {status} {size}")


def count(base, key):
    status, raw = get(base, key, "/api/v1/reports/opportunities/funnel")
    if status != 200:
        print("?")
        return
    print(sum(s["current"]["count"] for s in json.loads(raw)["stages"]))


def main():
    cmd, base, key = sys.argv[1:4]
    if cmd == "ids":
        ids(base, key, sys.argv[4], int(sys.argv[5]))
    elif cmd == "time":
        timed(base, key, sys.argv[4], int(sys.argv[5]))
    elif cmd == "count":
        count(base, key)
    else:
        sys.exit(f"bench_deals.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
