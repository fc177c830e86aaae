"""The gateway's read cache (services/gateway/cache.h), over HTTP only.

Starts the real broker, rapport-users, rapport-customers and one or two
rapport-gateway processes (plus one with RAPPORT_CACHE_RECORDS=0) and talks
HTTP with http.client. Whether an answer came from the cache is read from
/metrics (rapport_gateway_cache_hits_total), so no test passes without hits.
What is proved: a hit is byte for byte the answer an instance gave; every
write (patch, activity, assign, archive, restore, merge) shows on the very
next read through the same gateway and within a bounded time through another
gateway, even when that gateway had the old answer cached; one caller's kept
answer is never given to a caller of another scope; a size of 0 keeps
nothing. Teardown asserts every process exits 0 on SIGTERM (under ASan: no
leaks).
"""

import json
import urllib.parse

import pytest

from conftest import SLOW, wait_until
from test_gateway import ADMIN_KEY, JSON, Gateway, assert_problem
from test_gateway_users import CUSTOMERS, Stack, bearer
from test_story import team

OTHER_GATEWAY_S = 2.0  # a write through one gateway shows on another within this


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, gateways=2)
    yield s
    s.stop()


def metrics(gw):
    """{name: value} of the rapport_gateway_cache_* lines of /metrics."""
    status, _, text = gw.request("GET", "/metrics")
    assert status == 200, text
    found = {}
    for line in text.decode().splitlines():
        if line.startswith("rapport_gateway_cache_"):
            name, value = line.split()
            found[name[len("rapport_gateway_cache_"):]] = int(value)
    assert set(found) == {"hits_total", "misses_total", "records", "bytes"}, found
    return found


def hits(gw):
    return metrics(gw)["hits_total"]


def get(gw, path, key=ADMIN_KEY, method="GET"):
    """(status, ETag, body bytes) of a read."""
    status, headers, raw = gw.request(method, path, headers=bearer(key))
    return status, headers.get("etag"), raw


def write(gw, method, path, body=None, key=ADMIN_KEY):
    status, headers, raw = gw.request(method, path, None if body is None else
                                      json.dumps(body, ensure_ascii=False).encode(),
                                      {**bearer(key), **JSON})
    assert status in (200, 201), (method, path, raw)
    assert int(headers["x-rapport-seq"]) > 0
    return json.loads(raw), headers.get("etag"), raw


def create(gw, name, key=ADMIN_KEY, **fields):
    c, _, _ = write(gw, "POST", CUSTOMERS, {"name": name, **fields}, key)
    return c, f"{CUSTOMERS}/{urllib.parse.quote(c['id'], safe='')}"


def cached(gw, path, key=ADMIN_KEY):
    """Read path until gw answers it from its cache (the feed may still be
    catching up); returns that answer, which must then hit again, unchanged."""
    def hit():
        before = hits(gw)
        answer = get(gw, path, key)
        assert answer[0] == 200, answer
        return answer if hits(gw) == before + 1 else None
    answer = wait_until(hit, 2.0 * SLOW, interval=0.01, what=f"a cache hit for {path}")
    before = hits(gw)
    assert get(gw, path, key) == answer and hits(gw) == before + 1
    return answer


def test_a_hit_is_the_instances_answer_byte_for_byte(stack, tmp_path):
    gw = stack.gateways[0]
    _, path = create(gw, "上海星辰贸易有限公司", address="上海市浦东新区世纪大道100号",
                     mobile="13800138000", grade="A")
    m0 = metrics(gw)
    first = get(gw, path)
    m1 = metrics(gw)
    again = get(gw, path)
    m2 = metrics(gw)
    assert first[0] == 200 and first[1] == f'"{json.loads(first[2])["version"]}"', first
    assert "上海星辰贸易有限公司".encode() in first[2]
    assert m1["misses_total"] == m0["misses_total"] + 1 and m1["hits_total"] == m0["hits_total"]
    assert m2["hits_total"] == m1["hits_total"] + 1, (m1, m2)
    assert again == first  # status, ETag and body, byte for byte
    assert m2["records"] >= 1 and m2["bytes"] > len(first[2])

    # HEAD of a kept answer: 200, same ETag, no body.
    status, headers, raw = gw.request("HEAD", path, headers=bearer(ADMIN_KEY))
    assert status == 200 and raw == b"" and headers["etag"] == first[1], headers
    assert hits(gw) == m2["hits_total"] + 1

    # A 404 is never kept: the same miss twice.
    m3 = metrics(gw)
    for _ in range(2):
        status, headers, raw = gw.request("GET", f"{CUSTOMERS}/nope", headers=bearer(ADMIN_KEY))
        assert_problem(status, headers, raw, 404, "not_found")
    assert metrics(gw)["hits_total"] == m3["hits_total"]

    # RAPPORT_CACHE_RECORDS=0: every read goes to an instance, and gets the
    # same bytes the caching gateway kept; writes show at once.
    nocache = Gateway(stack.broker, tmp_path / "nocache", {"RAPPORT_CACHE_RECORDS": "0"})
    stack.procs.append(nocache)
    nocache.wait_ready()
    assert get(nocache, path) == first
    for grade in "BCD":
        _, etag, answer = write(nocache, "PATCH", path, {"grade": grade})
        for _ in range(3):
            status, got_etag, raw = get(nocache, path)
            assert status == 200 and got_etag == etag and raw == answer, raw
            assert json.loads(raw)["grade"] == grade
    assert metrics(nocache) == {"hits_total": 0, "misses_total": 0, "records": 0, "bytes": 0}


def test_writes_show_through_both_caches(stack):
    """Each write through gateway 1 shows on its very next read there, and on
    gateway 2 within OTHER_GATEWAY_S; both had the old answer cached."""
    gw1, gw2 = stack.gateways
    target, path = create(gw1, "北京华夏物流有限公司", grade="C", region="华北")
    source, source_path = create(gw1, "华夏物流(北京)分公司", region="华北")

    def step(method, wpath, body, check, read=path, answers_read=True):
        """Warm both caches, write through gw1, then read through both."""
        old = [cached(gw, read) for gw in (gw1, gw2)]
        assert old[0] == old[1], old
        written, _, raw = write(gw1, method, wpath, body)
        status, etag, now = get(gw1, read)  # the very next read, on the same gateway
        assert status == 200 and now != old[0][2], (method, wpath, now)
        record = json.loads(now)
        check(record, json.loads(old[0][2]))
        assert etag == f'"{record["version"]}"'
        if answers_read:  # the write answered the record read: the same bytes
            assert now == raw, (now, raw)
        # Gateway 2 drops its old answer once its feed brings the event.
        wait_until(lambda: get(gw2, read) == (200, etag, now), OTHER_GATEWAY_S * SLOW,
                   interval=0.01, what=f"{method} {wpath} on gateway 2")
        for gw in (gw1, gw2):  # and keeps the new one
            assert cached(gw, read) == (200, etag, now)
        return written

    def patched(new, old):
        assert new["grade"] == "A" and new["region"] == "华东"
        assert new["version"] == old["version"] + 1
    step("PATCH", path, {"grade": "A", "region": "华东"}, patched)

    def contacted(new, old):  # the same version (and ETag), another body
        assert new["last_contacted_at"] == "2030-01-01T19:04:05.000Z", new
        assert new["version"] == old["version"] and old["last_contacted_at"] is None
    activity = step("POST", f"{path}/activities",
                    {"kind": "visit", "at": "2030-01-02T03:04:05+08:00", "summary": "拜访"},
                    contacted, answers_read=False)
    assert activity["kind"] == "visit"

    def assigned(new, old):
        assert new["owner"] == "u-zhang" and new["team"] == "west", new
        assert new["version"] == old["version"] + 1
    step("POST", f"{path}/assign", {"owner": "u-zhang", "team": "west"}, assigned)

    def archived(new, old):
        assert new["archived"] is True and new["version"] == old["version"] + 1
    step("DELETE", path, None, archived)

    def restored(new, old):
        assert new["archived"] is False and new["version"] == old["version"] + 1
    step("POST", f"{path}/restore", None, restored)

    # A merge changes its sources too: the source was read (and kept) on
    # both gateways, and must read archived afterwards.
    def source_archived(new, old):
        assert old["archived"] is False and new["archived"] is True, new
    merged = step("POST", f"{path}/merge", {"from": [source["id"]]}, source_archived,
                  read=source_path, answers_read=False)
    assert merged["id"] == target["id"] and merged["version"] == target["version"] + 5
    assert get(gw1, path)[2] == cached(gw2, path)[2]


def test_an_answer_is_kept_per_scope(stack):
    gw = stack.gateways[0]
    mgr, a, b = team(gw)
    c, path = create(gw, "杭州云帆科技有限公司", key=a, region="华东")
    assert c["team"] == "east"
    status, etag, mine = cached(gw, path, a)  # A's answer, kept
    for _ in range(3):  # B is out of scope: never A's kept answer
        before = hits(gw)
        status, headers, raw = gw.request("GET", path, headers=bearer(b))
        assert_problem(status, headers, raw, 404, "not_found")
        status, headers, raw = gw.request("HEAD", path, headers=bearer(b))
        assert status == 404 and "etag" not in headers, headers
        assert hits(gw) == before
    # The manager of the team sees it: an answer of the manager's own (a
    # miss first), the same bytes for the same record.
    before = hits(gw)
    assert get(gw, path, mgr) == (200, etag, mine)
    assert hits(gw) == before
    assert cached(gw, path, mgr) == (200, etag, mine)
    # A's reads still hit, and B is still refused.
    assert cached(gw, path, a) == (200, etag, mine)
    assert gw.request("GET", path, headers=bearer(b))[0] == 404
    assert metrics(gw)["records"] == 1
