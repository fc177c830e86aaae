"""Issue 3, Replicas: three customers instances behind one gateway, over HTTP.

Starts the real broker, three rapport-customers processes (each with its own
data dir) and rapport-gateway (bootstrap admin key), and talks HTTP with
http.client only. Which instance did what is read from broker.status: each
worker names itself in READY (its log instance id, "hostname-pid"), and the
status lists per worker the requests it was sent and which one holds the
customers.writer lease — so a test can tell the three apart by pid.

- reads are served by all three instances, and a write is visible on the very
  next read through the gateway whichever instance answers (the gateway sends
  the caller's last seq as min_seq);
- kill -9 of the writer under a concurrent HTTP write load loses nothing that
  was acknowledged (every 201's customer reads back with its content), a
  standby takes over within 10 s, and meanwhile the gateway answers 503 with
  Retry-After, each request completing within the gateway's timeout.
"""

import http.client
import json
import threading
import time
import urllib.parse

import pytest

from conftest import SLOW, UNDER_ASAN, wait_until
from test_customers import Customers
from test_gateway import AUTH, JSON, Gateway

BASE = "/api/v1/customers"
TAKEOVER_S = 10.0 + (5.0 if UNDER_ASAN else 0.0)
GATEWAY_TIMEOUT_S = 10.0  # http/timeout_ms default: a service's answer, else 504
INSTANCES = 3


def status(broker):
    with broker.client() as client:
        return client.status()


def served_by_pid(broker, service="customers"):
    """{pid: requests sent to that instance's worker} for a service."""
    counts = {}
    for worker in status(broker)["services"].get(service, {}).get("instances", []):
        name = worker["instance"]
        assert name, worker  # every Rapport worker names itself
        counts[int(name.rsplit("-", 1)[1])] = worker["served"]
    return counts


def writer_pid(broker):
    lease = status(broker)["leases"].get("customers")
    if not lease or not lease["holder"] or not lease["holder_instance"]:
        return None
    return int(lease["holder_instance"].rsplit("-", 1)[1])


class Cluster:
    """The broker, three customers instances and a gateway, all serving."""

    def __init__(self, broker, tmp_path):
        self.broker = broker
        self.instances = []
        for i in range(INSTANCES):
            self.instances.append(Customers(broker, tmp_path / f"customers{i}"))
        self.gateway = Gateway(broker, tmp_path / "gateway").wait_ready()
        pids = {c.pid for c in self.instances}

        def serving():
            st = status(broker)
            lease = st["leases"].get("customers")
            return (set(served_by_pid(broker)) == pids and lease and lease["holder"]
                    and lease["standbys"] == INSTANCES - 1)
        wait_until(serving, 30 * SLOW, interval=0.1, what="three customers instances serving")
        self.gateway.wait_customers()

    def by_pid(self, pid):
        return next(c for c in self.instances if c.pid == pid)

    def finish(self):
        failures = []
        code = self.gateway.stop()
        if code != 0:
            failures.append(f"gateway exited with {code}\n" + self.gateway.log_tail())
        for c in self.instances:
            if not c.killed:
                code = c.stop()
                if code != 0:
                    failures.append(f"customers {c.pid} exited with {code}\n" + c.log_tail())
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def cluster(broker_factory, tmp_path):
    c = Cluster(broker_factory(), tmp_path)
    yield c
    c.finish()


def post_customer(gw, body, **headers):
    return gw.request("POST", BASE, json.dumps(body, ensure_ascii=False).encode(),
                      {**AUTH, **JSON, **headers})


def test_reads_spread_over_all_three_and_read_your_writes(cluster):
    gw, broker = cluster.gateway, cluster.broker
    status_code, headers, raw = post_customer(gw, {"name": "成都天府软件园", "grade": "C"})
    assert status_code == 201, raw
    cid = json.loads(raw)["id"]
    path = f"{BASE}/{urllib.parse.quote(cid, safe='')}"

    # Reads: every instance answers some of them (the router gives a request
    # to the worker with the most free credit, the longest idle on a tie).
    # Lists, because the gateway answers a record it has read before from
    # its cache (services/gateway/cache.h) without asking any instance.
    before = served_by_pid(broker)
    reads = 30
    for _ in range(reads):
        status_code, _, raw = gw.request("GET", f"{BASE}?limit=5", headers=AUTH)
        assert status_code == 200 and cid in [c["id"] for c in json.loads(raw)["items"]], raw
    after = served_by_pid(broker)
    delta = {pid: after[pid] - before[pid] for pid in before}
    assert sum(delta.values()) >= reads, delta
    assert all(n > 0 for n in delta.values()), f"not every instance served a read: {delta}"

    # Read-your-writes: each change is visible on the next read through the
    # gateway, whichever instance answers it; the follow-up reads land on
    # more than one instance, so this is not one instance answering itself.
    before = served_by_pid(broker)
    for i in range(12):
        grade = "ABCDE"[i % 5]
        status_code, headers, raw = gw.request(
            "PATCH", path, json.dumps({"grade": grade, "region": f"区域{i}"}).encode(),
            {**AUTH, **JSON})
        assert status_code == 200, raw
        seq = int(headers["x-rapport-seq"])
        status_code, headers, raw = gw.request("GET", path, headers=AUTH)
        got = json.loads(raw)
        assert status_code == 200 and got["version"] == i + 2, (seq, got)
        assert got["grade"] == grade and got["region"] == f"区域{i}", got

        name = f"新建客户{i}"
        status_code, headers, raw = post_customer(gw, {"name": name})
        assert status_code == 201, raw
        new_id = json.loads(raw)["id"]
        status_code, _, raw = gw.request("GET", f"{BASE}/{new_id}", headers=AUTH)
        assert status_code == 200 and json.loads(raw)["name"] == name, raw
    after = served_by_pid(broker)
    readers = [pid for pid in before if after[pid] > before[pid]]
    assert len(readers) >= 2, (before, after)


class PostLoad(threading.Thread):
    """POSTs distinct customers one after another over HTTP; retries a 503
    with the same Idempotency-Key (after a short pause, not the whole
    Retry-After, to see the gap closely). Records every acknowledgement and
    every answer's status, elapsed time and Retry-After."""

    def __init__(self, gw, tag):
        super().__init__(daemon=True, name=f"post-load-{tag}")
        self.gw, self.tag = gw, tag
        self.stop = threading.Event()
        self.acked = []    # (body, id, monotonic time of the 201)
        self.answers = []  # (status, seconds, retry-after or None, monotonic time)
        self.error = None

    def body(self, i):
        return {"name": f"压测客户{self.tag}-{i}", "address": f"北京市海淀区中关村大街{i}号",
                "grade": "ABCDE"[i % 5]}

    def run(self):
        try:
            i = 0
            while not self.stop.is_set():
                self._create_until_acked(i)
                i += 1
        except Exception as e:  # noqa: BLE001 — reported by the test
            self.error = e

    def _create_until_acked(self, i):
        body = self.body(i)
        key = f"replica-load-{self.tag}-{i}"
        deadline = time.monotonic() + 60 * SLOW
        while time.monotonic() < deadline:
            start = time.monotonic()
            try:
                status_code, headers, raw = post_customer(self.gw, body,
                                                          **{"Idempotency-Key": key})
            except (OSError, http.client.HTTPException) as e:
                raise AssertionError(f"request {key} failed after "
                                     f"{time.monotonic() - start:.1f} s: {e!r}")
            end = time.monotonic()
            self.answers.append((status_code, end - start, headers.get("retry-after"), end))
            if status_code == 201:
                created = json.loads(raw)
                assert created["name"] == body["name"], created
                self.acked.append((body, created["id"], end))
                return
            assert status_code == 503, (status_code, raw)
            if self.stop.is_set():
                return  # unacknowledged: not counted
            time.sleep(0.1)
        raise AssertionError(f"create {key} never acknowledged")


def test_writer_kill9_under_http_write_load_loses_nothing(cluster):
    gw, broker = cluster.gateway, cluster.broker
    pid = writer_pid(broker)
    assert pid in {c.pid for c in cluster.instances}, (pid, status(broker))
    writer = cluster.by_pid(pid)

    loads = [PostLoad(gw, t) for t in range(4)]
    for load in loads:
        load.start()
    try:
        wait_until(lambda: sum(len(lo.acked) for lo in loads) >= 40
                   or any(lo.error for lo in loads), 30 * SLOW, what="40 acknowledged POSTs")
        assert not any(lo.error for lo in loads), [lo.error for lo in loads]
        writer.kill9()
        t0 = time.monotonic()
        wait_until(lambda: any(lo.error for lo in loads)
                   or sum(1 for lo in loads for a in lo.acked if a[2] > t0) >= 20,
                   TAKEOVER_S + 20 * SLOW, what="acknowledged POSTs after the takeover")
        assert not any(lo.error for lo in loads), [lo.error for lo in loads]
    finally:
        for load in loads:
            load.stop.set()
        for load in loads:
            load.join(GATEWAY_TIMEOUT_S * 3 * SLOW)
    assert not any(lo.is_alive() for lo in loads)
    assert not any(lo.error for lo in loads), [lo.error for lo in loads]

    # A standby took over within 10 s: the first 201 after the kill.
    took = min(a[2] for lo in loads for a in lo.acked if a[2] > t0) - t0
    assert took < TAKEOVER_S, f"first write acknowledged {took:.1f} s after the kill"
    new_writer = writer_pid(broker)
    assert new_writer and new_writer != pid, new_writer

    # During the gap: 503 with Retry-After, never a hang (each answer came
    # within the gateway's timeout), never anything but 201 or 503.
    answers = [a for lo in loads for a in lo.answers]
    refused = [a for a in answers if a[0] == 503]
    assert refused, "no request fell into the gap"
    assert all(a[2] and int(a[2]) >= 1 for a in refused), refused
    slowest = max(a[1] for a in answers)
    assert slowest < GATEWAY_TIMEOUT_S + 1.0 * SLOW, f"an answer took {slowest:.1f} s"

    # Nothing acknowledged is lost: every 201's customer reads back, with
    # its content, from the survivors (the reads spread over both).
    acked = [a for lo in loads for a in lo.acked]
    ids = [a[1] for a in acked]
    assert len(set(ids)) == len(ids), "one customer acknowledged twice"
    before = served_by_pid(broker)
    for body, cid, _ in acked:
        status_code, _, raw = gw.request("GET", f"{BASE}/{cid}", headers=AUTH)
        assert status_code == 200, (cid, raw)
        got = json.loads(raw)
        assert {k: got[k] for k in body} == body, (body, got)
    after = served_by_pid(broker)
    assert pid not in after and len(after) == INSTANCES - 1, after
    assert all(after[p] > before.get(p, 0) for p in after), (before, after)


def test_reader_kill9_every_read_answered(cluster):
    """kill -9 of an instance that only reads: the reads the broker had
    handed it come back as 503 worker_lost once its heartbeats have
    expired, and the gateway sends each once more, to a survivor — the
    clients see only 200s, the unlucky ones late."""
    gw, broker = cluster.gateway, cluster.broker
    writer = writer_pid(broker)
    victim = next(c for c in cluster.instances if c.pid != writer)
    stop = threading.Event()
    answers, errors = [], []

    def read_loop():
        try:
            while not stop.is_set():
                start = time.monotonic()
                status_code, _, raw = gw.request("GET", f"{BASE}?limit=5", headers=AUTH)
                answers.append((status_code, time.monotonic() - start, raw))
        except Exception as e:  # noqa: BLE001 — reported by the test
            errors.append(e)

    readers = [threading.Thread(target=read_loop, daemon=True) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        wait_until(lambda: len(answers) >= 20 or errors, 10 * SLOW, what="reads before the kill")
        victim.kill9()
        t0 = time.monotonic()
        # Past the heartbeat expiry (7.5 s) and the resent reads' answers.
        wait_until(lambda: errors or (time.monotonic() - t0 > 9.0 * SLOW
                                      and any(a[1] > 3.0 for a in answers)),
                   TAKEOVER_S + 10 * SLOW, interval=0.1, what="a read resent after the kill")
    finally:
        stop.set()
        for r in readers:
            r.join(GATEWAY_TIMEOUT_S * 2 * SLOW)
    assert not errors, errors
    bad = [(a[0], a[2][:200]) for a in answers if a[0] != 200]
    assert not bad, bad
    slowest = max(a[1] for a in answers)
    assert 3.0 < slowest < GATEWAY_TIMEOUT_S + 1.0 * SLOW, slowest
    assert "sending it once more" in gw.log_tail(200), gw.log_tail(20)
