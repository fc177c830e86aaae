"""Issue 14, replicas: three rapport-opportunities instances behind one gateway.

Real processes: the broker, rapport-users, rapport-customers, three
rapport-opportunities (each its own data dir, one writer by lease) and
rapport-gateway; HTTP only. Which instance answered is read from
broker.status, as tests/system/test_replicas.py does for customers.

- reads (lists and histories; the reports apart) are served by all three
  instances, and a write is visible on the next read whichever instance
  answers (the gateway sends the caller's last seq as min_seq);
- kill -9 of the writer under a write load (deal creates and stage moves,
  each with its own Idempotency-Key, retried on 503/504 until acknowledged)
  loses no acknowledged write: after the failover every acknowledged deal
  is there, at its last acknowledged stage, with every acknowledged move in
  its history;
- a fourth instance started later catches up (its ready file, the probe's
  readiness, names a cursor at the journal's head) and answers the same
  lists and the same reports (funnel, forecast, win-loss, horizon,
  stage-durations) as the others answered before it started.
"""

import http.client
import json
import threading
import time

import pytest

from conftest import SLOW, UNDER_ASAN, wait_until
from opportunities_story import (CUSTOMERS, OPPS, REPORTS, OppStack, call, history, ids,
                                 list_all, loads, ok)
from test_gateway import ADMIN_KEY
from test_replicas import served_by_pid, status

INSTANCES = 3
TAKEOVER_S = 10.0 + (5.0 if UNDER_ASAN else 0.0)
GATEWAY_TIMEOUT_S = 10.0
MOVES = ["contacted", "needs_analysis", "proposal", "negotiation"]


def writer_pid(broker):
    lease = status(broker)["leases"].get("opportunities")
    if not lease or not lease["holder"] or not lease["holder_instance"]:
        return None
    return int(lease["holder_instance"].rsplit("-", 1)[1])


def opp_pids(broker):
    return served_by_pid(broker, "opportunities")


@pytest.fixture
def cluster(broker_factory, tmp_path):
    s = OppStack(broker_factory, tmp_path, instances=INSTANCES)
    pids = {p.pid for p in s.opps}

    def serving():
        lease = status(s.broker)["leases"].get("opportunities")
        return (set(opp_pids(s.broker)) == pids and lease and lease["holder"]
                and lease["standbys"] == INSTANCES - 1)
    wait_until(serving, 30 * SLOW, interval=0.1, what="three opportunities instances serving")
    yield s
    s.stop()


def a_customer(gw, name="重庆两江物流有限公司"):
    return ok(call(gw, ADMIN_KEY, "POST", CUSTOMERS, {"name": name},
                   **{"X-Rapport-Allow-Duplicate": "true"}), 201)


def test_reads_spread_over_all_three_and_read_your_writes(cluster):
    gw, broker = cluster.gateways[0], cluster.broker
    c = a_customer(gw)
    d = ok(call(gw, ADMIN_KEY, "POST", OPPS, {"customer_id": c["id"], "title": "两江仓储",
                                              "amount": 1000}), 201)
    before = opp_pids(broker)
    reads = 30
    for i in range(reads):
        if i % 2:
            body = ok(call(gw, ADMIN_KEY, "GET", f"{OPPS}?limit=5"))
            assert d["id"] in ids(body["items"]), body
        else:
            (entry,) = history(gw, ADMIN_KEY, d)
            assert entry["to"] == "lead", entry
    after = opp_pids(broker)
    delta = {pid: after[pid] - before[pid] for pid in before}
    assert sum(delta.values()) >= reads, delta
    assert all(n > 0 for n in delta.values()), f"not every instance served a read: {delta}"

    # Read-your-writes: each move is on the next read, whichever instance answers.
    before = opp_pids(broker)
    for stage in MOVES + ["won"]:
        d = ok(call(gw, ADMIN_KEY, "POST", f"{OPPS}/{d['id']}/stage", {"stage": stage}))
        (item,) = ok(call(gw, ADMIN_KEY, "GET", f"{OPPS}?customer_id={c['id']}"))["items"]
        assert item["stage"] == stage and item["version"] == d["version"], (stage, item)
        assert history(gw, ADMIN_KEY, d)[-1]["to"] == stage
    after = opp_pids(broker)
    assert len([p for p in before if after[p] > before[p]]) >= 2, (before, after)


def test_reports_served_by_all_three(cluster):
    gw, broker = cluster.gateways[0], cluster.broker
    c = a_customer(gw)
    d = ok(call(gw, ADMIN_KEY, "POST", OPPS, {"customer_id": c["id"], "title": "两江仓储",
                                              "amount": 1000}), 201)
    before = opp_pids(broker)
    for stage in MOVES + ["won"]:
        d = ok(call(gw, ADMIN_KEY, "POST", f"{OPPS}/{d['id']}/stage", {"stage": stage}))
        for _ in range(6):
            f = ok(call(gw, ADMIN_KEY, "GET", f"{REPORTS}/funnel"))
            current = {s["key"]: s["current"]["count"] for s in f["stages"]}
            assert current[stage] == 1 and sum(current.values()) == 1, (stage, f)
    after = opp_pids(broker)
    assert all(after[p] > before[p] for p in before), (before, after)


class DealLoad(threading.Thread):
    """Creates deals and moves each through MOVES, one request after another;
    every request has its own Idempotency-Key and is retried with it on
    503/504 (or a dropped connection) until acknowledged. Records the last
    acknowledged state of every deal. Asked to stop, it finishes the request
    in hand (so what it recorded is exactly what was acknowledged)."""

    def __init__(self, gw, tag, customer_id):
        super().__init__(daemon=True, name=f"deal-load-{tag}")
        self.gw, self.tag, self.customer_id = gw, tag, customer_id
        self.stop = threading.Event()
        self.acked = {}    # deal id → (title, [acknowledged stages in order])
        self.answers = []  # (status, seconds, monotonic time of the answer)
        self.error = None

    def run(self):
        try:
            i = 0
            while not self.stop.is_set():
                title = f"压测商机{self.tag}-{i}"
                d = self._until_acked("POST", OPPS, {"customer_id": self.customer_id,
                                                     "title": title, "amount": 100 + i},
                                      f"opp-load-{self.tag}-{i}", 201)
                assert d["title"] == title and d["stage"] == "lead", d
                self.acked[d["id"]] = (title, ["lead"])
                for stage in MOVES:
                    if self.stop.is_set():
                        break
                    got = self._until_acked("POST", f"{OPPS}/{d['id']}/stage", {"stage": stage},
                                            f"opp-load-{self.tag}-{i}-{stage}", 200)
                    assert got["stage"] == stage, got
                    self.acked[d["id"]][1].append(stage)
                i += 1
        except Exception as e:  # noqa: BLE001 — reported by the test
            self.error = e

    def _until_acked(self, method, path, body, key, expected):
        deadline = time.monotonic() + 60 * SLOW
        while time.monotonic() < deadline:
            start = time.monotonic()
            try:
                status_code, _, raw = self.gw.request(
                    method, path, json.dumps(body, ensure_ascii=False).encode(),
                    {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json",
                     "Idempotency-Key": key})
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
                continue
            end = time.monotonic()
            self.answers.append((status_code, end - start, end))
            if status_code == expected:
                return loads(raw)
            assert status_code in (503, 504), (key, status_code, raw)
            time.sleep(0.1)
        raise AssertionError(f"{method} {path} ({key}) never acknowledged")


def test_writer_kill9_under_deal_load_loses_no_acknowledged_write(cluster):
    gw, broker = cluster.gateways[0], cluster.broker
    c = a_customer(gw)
    pid = writer_pid(broker)
    assert pid in {p.pid for p in cluster.opps}, (pid, status(broker))
    writer = next(p for p in cluster.opps if p.pid == pid)

    loads_ = [DealLoad(gw, t, c["id"]) for t in range(4)]
    for lo in loads_:
        lo.start()

    def acked_answers(after=0.0):
        return sum(1 for lo in loads_ for a in lo.answers if a[0] in (200, 201) and a[2] > after)
    try:
        wait_until(lambda: acked_answers() >= 60 or any(lo.error for lo in loads_), 30 * SLOW,
                   what="60 acknowledged writes")
        assert not any(lo.error for lo in loads_), [lo.error for lo in loads_]
        writer.kill9()
        t0 = time.monotonic()
        wait_until(lambda: any(lo.error for lo in loads_) or acked_answers(t0) >= 40,
                   TAKEOVER_S + 30 * SLOW, what="acknowledged writes after the takeover")
        assert not any(lo.error for lo in loads_), [lo.error for lo in loads_]
    finally:
        for lo in loads_:
            lo.stop.set()
        for lo in loads_:
            lo.join(GATEWAY_TIMEOUT_S * 6 * SLOW)
    assert not any(lo.is_alive() for lo in loads_)
    assert not any(lo.error for lo in loads_), [lo.error for lo in loads_]

    took = min(a[2] for lo in loads_ for a in lo.answers
               if a[0] in (200, 201) and a[2] > t0) - t0
    assert took < TAKEOVER_S, f"first write acknowledged {took:.1f} s after the kill"
    new_writer = writer_pid(broker)
    assert new_writer and new_writer != pid, new_writer
    answers = [a for lo in loads_ for a in lo.answers]
    assert any(a[0] in (503, 504) for a in answers), "no request fell into the gap"

    # Every acknowledged deal, at its last acknowledged stage, its history
    # holding every acknowledged move, and no deal made twice by a retry.
    acked = {i: v for lo in loads_ for i, v in lo.acked.items()}
    listed = list_all(gw, ADMIN_KEY, customer_id=c["id"])
    titles = [d["title"] for d in listed]
    assert len(titles) == len(set(titles)), "a retried create made a second deal"
    by_id = {d["id"]: d for d in listed}
    for deal_id, (title, stages) in acked.items():
        d = by_id.get(deal_id)
        assert d is not None, f"acknowledged deal {deal_id} ({title}) lost"
        assert d["title"] == title and d["stage"] == stages[-1], (d, stages)
        moves = [e["to"] for e in history(gw, ADMIN_KEY, deal_id) if e["from"] != e["to"]]
        assert moves == stages, (deal_id, moves, stages)


@pytest.mark.parametrize("reads", ["lists", "reports"])
def test_new_instance_catches_up_and_answers_the_same(cluster, tmp_path, reads):
    gw, broker = cluster.gateways[0], cluster.broker
    c = a_customer(gw)
    made = []
    for i in range(30):
        d = ok(call(gw, ADMIN_KEY, "POST", OPPS,
                    {"customer_id": c["id"], "title": f"追赶测试{i}", "amount": 1000 + i * 10.5,
                     "expected_close": f"2027-0{1 + i % 6}-15", "source": ["官网", "展会"][i % 2]}),
               201)
        for stage in MOVES[: i % 5]:
            d = ok(call(gw, ADMIN_KEY, "POST", f"{OPPS}/{d['id']}/stage", {"stage": stage}))
        if i % 7 == 3:
            d = ok(call(gw, ADMIN_KEY, "POST", f"{OPPS}/{d['id']}/stage",
                        {"stage": "lost", "lost_reason": "价格"}))
        elif i % 7 == 5:
            d = ok(call(gw, ADMIN_KEY, "POST", f"{OPPS}/{d['id']}/stage", {"stage": "won"}))
        made.append(d)
    if reads == "reports":
        paths = [f"{REPORTS}/{r}" for r in ("funnel", "forecast?from=2027-01-01&to=2027-12-31",
                                            "win-loss?by=source", "horizon", "stage-durations")]
    else:
        paths = [f"{OPPS}?customer_id={c['id']}&limit=200", f"{OPPS}?status=open&sort=-amount",
                 f"{OPPS}?stage=proposal", f"{OPPS}/{made[7]['id']}/history"]
    before = {r: ok(call(gw, ADMIN_KEY, "GET", r)) for r in paths}
    with broker.client() as client:
        head = client.head()

    ready = tmp_path / "opp-late.ready"
    late = cluster.add_instance(env={"RAPPORT_HEALTH_READY_FILE": str(ready)})

    def caught_up():
        assert late.alive(), late.log_tail()
        try:
            parts = ready.read_text().split()
        except OSError:
            return False
        return len(parts) == 4 and parts[0] == "ready" and int(parts[2]) >= head
    wait_until(caught_up, 30 * SLOW, interval=0.05, what="the late instance caught up")
    wait_until(lambda: late.pid in opp_pids(broker), 10 * SLOW, what="the late instance serving")

    # Ask until the late instance has served each read a few times: every
    # answer, whoever gave it, is the one from before it started.
    for r in paths:
        start = opp_pids(broker).get(late.pid, 0)
        deadline = time.monotonic() + 20 * SLOW
        while opp_pids(broker).get(late.pid, 0) < start + 2:
            assert time.monotonic() < deadline, f"the late instance never served {r}"
            got = ok(call(gw, ADMIN_KEY, "GET", r))
            assert got == before[r], (r, got, before[r])
    assert ids(list_all(gw, ADMIN_KEY, customer_id=c["id"])) == ids(made)
