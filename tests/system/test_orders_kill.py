"""Issue 15, what it must show: an outside integrator publishes 10,000
order.placed events while the customers writer is killed with kill -9
twice; afterwards every customer's totals equal the sums computed from what
was acknowledged, on every instance, and on a new instance started after.

Real processes: the broker and two rapport-customers instances (each its own
data dir, one holding the customers.writer lease). The integrator is
tests/system/integrator_orders.py, a program with pyzmq and msgpack only
(none of this project's code), run by /usr/bin/python3 as a subprocess: it
publishes over MDP (journal.append) to 20 customers by code, with repeated
ids, orders resent under new ids, cancels (some before their order), lost
replies and timeouts retried with the same ids, and writes every
acknowledged item {id, seq, status, event} to a log.

Meanwhile the test finds the writer (broker.status leases → holder_instance
"host-pid"), kills it with SIGKILL and restarts it on its data dir; once the
other instance holds the lease, it kills that one too and restarts it.

Afterwards, from the log alone (not from the CRM): an order_no counts once,
by the first of its order.placed in journal order (seq), and not at all
when any of its cancels was acknowledged; per customer the CNY orders,
amount and quantity are summed in hundredths. Then:
- the journal holds exactly the acknowledged integrator events, each at the
  seq its answer named, as sent (nothing lost, nothing twice), and its head
  is their count plus the services' own events;
- every instance (each reply names its instance; reads are sent with
  min_seq = the journal's head until each instance has answered) gives each
  customer those stats, lists exactly its counted orders as placed (every
  order once, on the customer its first copy named, at its first figures,
  cancelled when a cancel was acknowledged), and has an empty unmatched
  queue; all instances answer the same records, and so does
  GET /api/v1/customers/{id} through a gateway;
- a third instance started afterwards on a fresh data dir answers the same.
"""

import ast
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import ROOT, SLOW, UNDER_ASAN, wait_until
from test_customers import ADMIN, Customers
from test_gateway import AUTH, Gateway

INTEGRATOR = os.path.join(ROOT, "tests", "system", "integrator_orders.py")
CODES = [f"K3-C{i:02d}" for i in range(1, 21)]
PLACED = 10_000
# The integrator's pace: publishing must outlast two kills and takeovers
# (each a lease expiry, about 8 s); the test fails if it does not.
PUBLISH_S = 30.0 * SLOW
TAKEOVER_S = 15.0 + (5.0 if UNDER_ASAN else 0.0)


def instance_pid(name):
    return int(name.rsplit("-", 1)[1])


def registered(client, service="customers"):
    """({pid of each worker of service}, the writer's pid or None, its standbys)."""
    st = client.status()
    pids = {instance_pid(w["instance"])
            for w in st["services"].get(service, {}).get("instances", [])}
    lease = st["leases"].get(service) or {}
    holder = lease.get("holder_instance") if lease.get("holder") else None
    return pids, (instance_pid(holder) if holder else None), lease.get("standbys")


class AckLog:
    """The integrator's log, read as it grows."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.items = []
        self.partial = b""

    def count(self):
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
            self.offset += len(data)
            lines = (self.partial + data).split(b"\n")
            self.partial = lines.pop()
            self.items += [json.loads(line) for line in lines if line]
        return len(self.items)


def cents(x):
    return round(x * 100)


def expected_from(acked):
    """What the acknowledged events make of each customer, computed here
    from the log alone: {code: {orders, amount, quantity, order_nos}}."""
    by_seq = {}
    for item in acked:
        event = item["event"]
        first = by_seq.setdefault(item["seq"], item)
        # One seq is one event: a duplicate names the seq of the same id.
        assert first["id"] == item["id"] and first["event"] == event, (first, item)
    first_placed, cancelled = {}, set()
    for seq in sorted(by_seq):
        event = by_seq[seq]["event"]
        no = event["data"]["order_no"]
        if event["type"] == "order.placed":
            first_placed.setdefault(no, event["data"])
        else:
            cancelled.add(no)
    want = {code: {"orders": 0, "amount": 0, "quantity": 0, "order_nos": set()} for code in CODES}
    for no, data in first_placed.items():
        if no in cancelled:
            continue
        w = want[data["customer"]["code"]]
        w["orders"] += 1
        w["amount"] += cents(data["amount"])
        w["quantity"] += cents(data["quantity"])
        w["order_nos"].add(no)
    return want, by_seq, first_placed, cancelled


def read_until(client, service, op, args, pids, timeout, **envelope):
    """{pid: reply data}: the op sent again and again (min_seq waits on a
    lagging instance; 503 min_seq_timeout or worker_lost is retried) until
    every instance in pids has answered it 200."""
    got = {}
    deadline = time.monotonic() + timeout
    while set(got) != pids:
        assert time.monotonic() < deadline, (
            f"{op} {args}: instances {sorted(pids - set(got))} did not answer within {timeout} s")
        try:
            reply = client.call(service, op, args, timeout=6.0 * SLOW, actor=ADMIN, **envelope)
        except TimeoutError:
            continue
        if reply["status"] == 503:
            continue
        assert reply["status"] == 200, reply
        got.setdefault(instance_pid(reply["instance"]), reply["data"])
    return got


def all_orders(client, cid, pids, head, timeout):
    """{pid: [order…]} of one customer from each instance, every page (the
    instances hold the same orders, so they page alike)."""
    pages = {pid: [] for pid in pids}
    cursor = None
    while True:
        args = {"id": cid, "limit": 200}
        if cursor:
            args["cursor"] = cursor
        got = read_until(client, "customers", "customers.orders", args, pids, timeout,
                         min_seq=head)
        for pid, data in got.items():
            pages[pid] += data["items"]
        cursors = {data.get("next_cursor") for data in got.values()}
        assert len(cursors) == 1, f"instances page differently: {cursors}"
        cursor = cursors.pop()
        if not cursor:
            return pages


def test_the_integrator_is_an_outsider():
    """It imports the standard library, pyzmq and msgpack: nothing of ours."""
    with open(INTEGRATOR, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or ".").split(".")[0])
    assert imported <= {"argparse", "json", "random", "sys", "time", "msgpack", "zmq"}, imported


@pytest.fixture
def instances(broker):
    started = []
    yield started
    failures = []
    for c in started:
        if not c.killed:
            code = c.stop()
            if code != 0:
                failures.append(f"{c.name} {c.pid} exited with {code}\n" + c.log_tail())
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def test_ten_thousand_orders_through_two_writer_kills(broker, instances, tmp_path):
    began = time.monotonic()
    for i in range(2):
        instances.append(Customers(broker, tmp_path / f"customers{i}"))

    def live():
        return {c.pid for c in instances if c.alive() and isinstance(c, Customers)}

    def serving(client):
        pids, holder, standbys = registered(client)
        return pids == live() and holder in pids and standbys == len(pids) - 1

    with broker.client() as client:
        wait_until(lambda: serving(client), 15 * SLOW, interval=0.05,
                   what="two customers instances, one the writer")
        ids = {}
        for i, code in enumerate(CODES):
            r = client.call("customers.writer", "customers.create",
                            {"name": f"华东第{i + 1}电缆贸易有限公司", "code": code,
                             "allow_duplicate": True}, actor=ADMIN)
            assert r["status"] == 200, r
            ids[code] = r["data"]["id"]

        log_path = str(tmp_path / "acked.jsonl")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        integrator = subprocess.Popen(
            ["/usr/bin/python3", INTEGRATOR, "--broker", broker.endpoint,
             "--codes", ",".join(CODES), "--log", log_path, "--placed", str(PLACED),
             "--rate", str(PLACED / PUBLISH_S), "--timeout", str(3.0 * SLOW),
             "--lose-every", "11"],
            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = AckLog(log_path)
        try:
            kills = []
            for round_ in range(2):
                # Some acknowledged events since the last kill, then the writer dies.
                at = log.count() + 1000
                wait_until(lambda: log.count() >= at or integrator.poll() is not None,
                           PUBLISH_S, interval=0.05, what=f"{at} acknowledged events")
                assert integrator.poll() is None, (
                    f"the integrator ended before kill {round_ + 1}:\n"
                    + integrator.stdout.read().decode())
                _, holder, _ = registered(client)
                victim = next(c for c in instances if c.pid == holder and c.alive())
                # Right after an acknowledgement: the instances are folding that batch.
                acked = log.count()
                wait_until(lambda: log.count() > acked or integrator.poll() is not None,
                           PUBLISH_S, interval=0.001, what="the next acknowledgement")
                assert integrator.poll() is None, f"the integrator ended before kill {round_ + 1}"
                victim.kill9()
                kills.append((holder, log.count(), round(time.monotonic() - began, 1)))
                instances.append(Customers(broker, victim.data_dir))
                # The standby takes the lease once the dead writer's expires.
                wait_until(lambda: registered(client)[1] in live(), TAKEOVER_S * SLOW,
                           interval=0.05, what=f"a writer after kill {round_ + 1}")
                wait_until(lambda: serving(client), TAKEOVER_S * SLOW, interval=0.05,
                           what=f"both instances serving after kill {round_ + 1}")
            out, _ = integrator.communicate(timeout=PUBLISH_S + 30 * SLOW)
        finally:
            if integrator.poll() is None:
                integrator.send_signal(signal.SIGKILL)
                integrator.wait()
        out = out.decode()
        assert integrator.returncode == 0, out
        summary = json.loads(out.strip().splitlines()[-1])
        log.count()
        acked = log.items
        assert summary["placed"] == PLACED and summary["events"] == len(acked), summary
        assert summary["duplicate"] > 0 and summary["lost"] > 0, summary
        print("kills (pid, acknowledged, s):", kills, "integrator:", summary)

        want, by_seq, first_placed, cancelled = expected_from(acked)
        fresh = Customers(broker, tmp_path / "customers-fresh")
        instances.append(fresh)
        gateway = Gateway(broker, tmp_path / "gateway")
        instances.append(gateway)

        # The journal: exactly the acknowledged events, each at its seq, as sent.
        events, head = client.read_all()
        assert len(events) == head and [e["seq"] for e in events] == list(range(1, head + 1))
        mine = {e["seq"]: e for e in events if e.get("source") == "kingdee-k3"}
        assert set(mine) == set(by_seq), (
            f"journal has {len(mine)} integrator events, {len(by_seq)} were acknowledged; "
            f"missing {sorted(set(by_seq) - set(mine))[:10]}, "
            f"unacknowledged {sorted(set(mine) - set(by_seq))[:10]}")
        for seq, item in by_seq.items():
            e = mine[seq]
            assert (e["id"], e["type"], e["data"]) == (
                item["id"], item["event"]["type"], item["event"]["data"]), (e, item)
        others = [e for e in events if e.get("source") != "kingdee-k3"]
        assert not [e for e in others if e["type"].startswith("order.")], others[:3]
        kinds = sorted({e["type"] for e in others})
        assert head == len(by_seq) + len(others), (head, len(by_seq), kinds)
        assert sum(1 for e in others if e["type"] == "customer.created") == len(CODES), kinds
        # An event is "accepted" once; one appended but answered only as a
        # duplicate is one whose first reply the integrator lost.
        hidden = len(by_seq) - summary["accepted"]
        assert 0 <= hidden <= summary["lost_events"], (hidden, summary)

        # Every instance, the fresh one too, answers from the whole journal.
        wait_until(lambda: registered(client)[0] == live(), 15 * SLOW, interval=0.05,
                   what="the fresh instance registered")
        pids = live()
        assert len(pids) == 3 and fresh.pid in pids
        read_s = 60 * SLOW
        records, listed = {}, {pid: 0 for pid in pids}
        for code in CODES:
            got = read_until(client, "customers", "customers.get", {"id": ids[code]}, pids,
                             read_s, min_seq=head)
            w = want[code]
            for pid, record in got.items():
                stats = record["stats"]
                cny = stats["currencies"].get("CNY", {"orders": 0, "amount": 0, "quantity": 0})
                assert (stats["orders"], cny["orders"], cents(cny["amount"]),
                        cents(cny["quantity"])) == (
                    w["orders"], w["orders"], w["amount"], w["quantity"]), (
                    f"customer {code} on instance {pid}"
                    f"{' (fresh)' if pid == fresh.pid else ''}: stats {stats}, want "
                    f"{ {k: v for k, v in w.items() if k != 'order_nos'} }")
            first = next(iter(got.values()))
            for pid, record in got.items():
                assert record == first, f"{code}: instances differ ({pid})"
            records[code] = first
            orders = all_orders(client, ids[code], pids, head, read_s)
            for pid, items in orders.items():
                placed = {o["order_no"] for o in items if o["status"] == "placed"}
                assert placed == w["order_nos"], (
                    f"{code} on {pid}: {len(placed)} placed orders, want {len(w['order_nos'])}: "
                    f"extra {sorted(placed - w['order_nos'])[:5]}, "
                    f"missing {sorted(w['order_nos'] - placed)[:5]}")
                assert len(items) == len({o["order_no"] for o in items}), f"{code} on {pid}"
                listed[pid] += len(items)
                for o in items:
                    d = first_placed[o["order_no"]]
                    assert (cents(o["amount"]), o["customer_id"], d["customer"]["code"]) == (
                        cents(d["amount"]), ids[code], code), (o, d)
                    assert (o["status"] == "cancelled") == (o["order_no"] in cancelled), o
        assert sum(w["orders"] for w in want.values()) == len(set(first_placed) - cancelled)
        # Every order placed is listed once, on the customer its first copy named.
        assert set(listed.values()) == {len(first_placed)}, (listed, len(first_placed))

        # Nothing waits unmatched: every code exists.
        for pid, data in read_until(client, "customers", "customers.unmatched.list", {}, pids,
                                    read_s, min_seq=head).items():
            assert data["items"] == [], (pid, data["items"][:3])

        # Over HTTP, as a person sees it: GET /api/v1/customers/{id} shows those stats.
        gateway.wait_ready()
        for code in CODES:
            status, _, body = gateway.json("GET", f"/api/v1/customers/{ids[code]}", headers=AUTH)
            assert status == 200 and body["stats"] == records[code]["stats"], (code, body)

        # The killed instances came back on their stores; nothing was applied twice
        # (the totals above), and the test stayed within its budget.
        assert sum(1 for c in instances if c.killed) == 2
        elapsed = time.monotonic() - began
        assert elapsed < 120 * SLOW, f"took {elapsed:.0f} s"
