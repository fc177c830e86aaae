"""The service runtime (rp_service) against the real broker, through tally_service.

tally_service is the smallest service on the runtime: "tally.add" on
"tally.writer" appends "tally.added" with the lease epoch and the request's
idem, waits until its own store applied it, and replies the new total;
"tally.get" on "tally" answers from any instance, honouring min_seq. Each
instance runs in its own process with its own data dir, so the tests can
kill -9 the writer and check that no acknowledged add is lost or doubled.
"""

import threading
import time

import pytest

from conftest import SLOW, UNDER_ASAN, build_path, wait_until
from process import ServiceProcess

TALLY = build_path("test", "tally_service")

# The broker finds a dead holder after 3 heartbeats of 2.5 s; the runtime's
# standby then needs its grant. The brief allows 10 s; sanitizers slow only
# the processing, not the timers, so they get a little slack, not a factor.
TAKEOVER_S = 10.0 + (5.0 if UNDER_ASAN else 0.0)


class Tally(ServiceProcess):
    """One tally_service process with its own data dir and log."""

    def __init__(self, broker, path):
        super().__init__("tally", TALLY, broker, path)


@pytest.fixture
def tallies(broker, tmp_path):
    """start() → a new Tally on the fixture's broker; all exit 0 on SIGTERM at the end."""
    started = []

    def start():
        t = Tally(broker, tmp_path / f"tally{len(started)}")
        started.append(t)
        return t

    yield start
    failures = []
    for t in started:
        if t.killed:
            continue
        code = t.stop()
        if code != 0:
            failures.append(f"tally {t.pid} exited with {code}\n" + t.log_tail())
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


# -- helpers ------------------------------------------------------------------


def service_workers(client, name):
    return client.status()["services"].get(name, {}).get("workers", 0)


def wait_serving(client, readers, standbys=None, timeout=15.0):
    """Until `readers` instances serve "tally" and the lease has a holder (and standbys)."""

    def ready():
        if client.mmi("tally") != "200" or client.mmi("tally.writer") != "200":
            return False
        status = client.status()
        lease = status["leases"].get("tally")
        return (status["services"]["tally"]["workers"] == readers and lease and lease["holder"]
                and (standbys is None or lease["standbys"] == standbys))

    wait_until(ready, timeout * SLOW, interval=0.05,
               what=f"{readers} tally readers and a lease holder")


def add(client, key, n, timeout=10.0, **envelope):
    return client.call("tally.writer", "tally.add", {"key": key, "n": n}, timeout, **envelope)


def get(client, key, timeout=10.0, **envelope):
    return client.call("tally", "tally.get", {"key": key}, timeout, **envelope)


def gets_from_all(client, key, min_seq, pids, timeout=15.0):
    """Pipelined gets until every pid has answered; {pid: [totals]} (all replies 200)."""
    seen = {}
    deadline = time.monotonic() + timeout * SLOW
    while set(pids) - set(seen):
        assert time.monotonic() < deadline, f"not all instances answered: {seen.keys()} {pids}"
        ids = {client.send_request("tally", "tally.get", {"key": key}, min_seq=min_seq)
               for _ in range(60)}
        while ids:
            reply = client.recv_reply(10 * SLOW)
            if reply.get("id") not in ids:
                continue  # a late reply to an earlier call
            ids.discard(reply["id"])
            assert reply["status"] == 200, reply
            data = reply["data"]
            assert data["cursor"] >= min_seq, reply
            seen.setdefault(data["instance"], []).append(data["total"])
    return seen


# -- a. one instance ----------------------------------------------------------


def test_add_get_idem_and_bad_args(broker, tallies):
    t = tallies()
    with broker.client() as client:
        wait_serving(client, readers=1)

        r1 = add(client, "apples", 2)
        assert r1["status"] == 200 and r1["data"] == {"key": "apples", "total": 2,
                                                      "instance": t.pid}, r1
        r2 = add(client, "apples", 3)
        assert r2["status"] == 200 and r2["data"]["total"] == 5 and r2["seq"] > r1["seq"], r2
        g = get(client, "apples", min_seq=r2["seq"])
        assert g["status"] == 200 and g["data"]["total"] == 5 and g["data"]["cursor"] >= r2["seq"]
        g = get(client, "pears")
        assert g["status"] == 200 and g["data"]["total"] == 0, g

        # A retry with the same idem key is appended once and answers the same seq.
        first = add(client, "pears", 7, idem="order-1")
        again = add(client, "pears", 7, idem="order-1")
        assert first["status"] == again["status"] == 200, (first, again)
        assert again["seq"] == first["seq"] and again["data"]["total"] == 7, (first, again)
        other = add(client, "pears", 1, idem="order-2")
        assert other["status"] == 200 and other["data"]["total"] == 8, other
        assert get(client, "pears", min_seq=other["seq"])["data"]["total"] == 8
        events, _ = client.read_all()
        assert [e["type"] for e in events] == ["tally.added"] * 4, events

        # Bad arguments: 400 for missing or mistyped, 422 for out of range.
        bad = [
            ("tally.writer", "tally.add", None, 400),
            ("tally.writer", "tally.add", {"key": "a"}, 400),
            ("tally.writer", "tally.add", {"n": 1}, 400),
            ("tally.writer", "tally.add", {"key": 5, "n": 1}, 400),
            ("tally.writer", "tally.add", {"key": "a", "n": "1"}, 400),
            ("tally.writer", "tally.add", {"key": "a", "n": 1.5}, 400),
            ("tally.writer", "tally.add", {"key": "a", "n": 0}, 422),
            ("tally.writer", "tally.add", {"key": "a", "n": -1}, 422),
            ("tally.writer", "tally.add", {"key": "a", "n": 10**7}, 422),
            ("tally.writer", "tally.add", {"key": "", "n": 1}, 422),
            ("tally.writer", "tally.add", {"key": "k" * 65, "n": 1}, 422),
            ("tally", "tally.add", {"key": "a", "n": 1}, 400),  # writes go to the writer
            ("tally", "tally.get", {}, 400),
            ("tally", "tally.get", {"key": "k" * 65}, 422),
            ("tally", "tally.nope", {}, 400),
        ]
        for service, op, args, status in bad:
            reply = client.call(service, op, args)
            assert reply["status"] == status and "error" in reply, (service, op, args, reply)
        reply = client.call("tally.writer", "tally.add", {"key": "a", "n": 1}, idem="i" * 200)
        assert reply["status"] == 400 and reply["error"]["code"] == "bad_idem", reply
        for body in (b"\xc1", msgpack_map_without_op(), b"\x93\x01\x02\x03"):
            client.send("tally", body)
            reply = client.recv_reply()
            assert reply["status"] == 400 and reply["error"]["code"] == "bad_request", reply
        # Nothing bad reached the journal, and the instance still serves.
        assert client.head() == other["seq"]
        assert get(client, "apples")["data"]["total"] == 5
        assert t.alive()


def msgpack_map_without_op():
    import msgpack
    return msgpack.packb({"id": 1, "args": {}})


# -- b. three instances -------------------------------------------------------


def test_three_instances_read_their_writes(broker, tallies):
    with broker.client() as client:
        first = tallies()
        wait_serving(client, readers=1)  # the first one holds the lease
        others = [tallies(), tallies()]
        wait_serving(client, readers=3, standbys=2)
        lease = client.status()["leases"]["tally"]
        assert lease["holder"] and lease["standbys"] == 2, lease

        total = 0
        last = None
        for i in range(20):
            total += i + 1
            last = add(client, "k", i + 1)
            assert last["status"] == 200 and last["data"]["total"] == total, last
            assert last["data"]["instance"] == first.pid, last  # only the holder writes

        pids = [first.pid] + [t.pid for t in others]
        seen = gets_from_all(client, "k", last["seq"], pids)
        for pid, totals in seen.items():
            assert set(totals) == {total}, (pid, totals)
        assert client.status()["services"]["tally"]["served"] >= 3


# -- c + d. the writer killed under load; a late instance replays ---------------


class AddLoad(threading.Thread):
    """Adds continuously, each with its own idem key, retried with the SAME key
    until acknowledged; records every acknowledged add."""

    def __init__(self, endpoint):
        super().__init__(daemon=True, name="add-load")
        self.endpoint = endpoint
        self.stop = threading.Event()
        self.acked = []  # (index, n, seq, pid, monotonic time)
        self.retries = 0
        self.error = None

    def run(self):
        import mdp
        try:
            with mdp.Client(self.endpoint) as client:
                i = 0
                while not self.stop.is_set():
                    self._add_until_acked(client, i)
                    i += 1
        except Exception as e:  # noqa: BLE001 — reported by the test
            self.error = e

    def _add_until_acked(self, client, i):
        n = i % 5 + 1
        deadline = time.monotonic() + 30 * SLOW
        while True:
            assert time.monotonic() < deadline, f"add {i} never acknowledged"
            try:
                reply = add(client, "load", n, timeout=3.0 * SLOW, idem=f"load-{i}")
            except TimeoutError:
                self.retries += 1
                continue
            if reply["status"] == 200:
                assert reply["data"]["key"] == "load", reply
                self.acked.append((i, n, reply["seq"], reply["data"]["instance"],
                                   time.monotonic()))
                return
            assert reply["status"] in (503, 504), reply  # retryable only
            self.retries += 1
            time.sleep(0.05)  # back off before retrying (the broker queues up to 5 s)


def test_writer_killed_under_load(broker, tallies):
    with broker.client() as client:
        writer = tallies()
        wait_serving(client, readers=1)
        standbys = [tallies(), tallies()]
        wait_serving(client, readers=3, standbys=2)
        epoch = client.status()["leases"]["tally"]["epoch"]

        load = AddLoad(broker.endpoint)
        load.start()
        try:
            wait_until(lambda: len(load.acked) >= 30 or load.error, 20 * SLOW,
                       what="30 acknowledged adds")
            assert load.error is None, load.error
            assert {a[3] for a in load.acked} == {writer.pid}
            writer.kill9()
            killed_at = time.monotonic()

            # A standby takes over: acknowledgements resume from another instance.
            # (An add the writer acknowledged just before it died may still
            # arrive after killed_at: what counts is who answered.)
            def resumed():
                return load.error or sum(1 for a in load.acked if a[3] != writer.pid) >= 20
            wait_until(resumed, TAKEOVER_S + 10 * SLOW, what="adds after the takeover")
            assert load.error is None, load.error
            after = [a for a in load.acked if a[3] != writer.pid]
            took = after[0][4] - killed_at
            assert took < TAKEOVER_S, f"first add after the kill took {took:.1f} s"
            assert {a[3] for a in after} <= {t.pid for t in standbys}, after
            assert load.acked[-len(after):] == after  # the killed writer answered nothing later
        finally:
            load.stop.set()
            load.join(40 * SLOW)
        assert not load.is_alive() and load.error is None, load.error

        status = client.status()
        assert status["leases"]["tally"]["epoch"] > epoch, status["leases"]
        indexes = [a[0] for a in load.acked]
        assert indexes == list(range(len(indexes)))  # each add acknowledged once, in order
        expected = sum(a[1] for a in load.acked)
        last_seq = max(a[2] for a in load.acked)

        # Every surviving instance holds exactly the acknowledged sum.
        seen = gets_from_all(client, "load", last_seq, [t.pid for t in standbys])
        for pid, totals in seen.items():
            assert set(totals) == {expected}, (pid, totals, expected, load.retries)
        # And the journal holds each add once: retries were deduplicated by idem.
        events, _ = client.read_all()
        loaded = [e for e in events if e["type"] == "tally.added"]
        assert len(loaded) == len(load.acked), (len(loaded), len(load.acked), load.retries)

        # d. An instance started now replays the journal and agrees.
        late = tallies()
        wait_serving(client, readers=3)
        seen = gets_from_all(client, "load", last_seq, [late.pid])
        assert set(seen[late.pid]) == {expected}, seen


def test_restart_keeps_cursor_and_new_instance_replays(broker, tallies):
    """A clean restart on the same store applies nothing twice; a fresh store replays all."""
    with broker.client() as client:
        t = tallies()
        wait_serving(client, readers=1)
        last = None
        for i in range(10):
            last = add(client, "r", 10)
            assert last["status"] == 200, last
        assert t.stop() == 0

        # The same data dir again: the runtime reopens <dir>/tally/1 at its cursor.
        again = Tally(broker, t.data_dir)
        try:
            wait_serving(client, readers=1)
            g = get(client, "r", min_seq=last["seq"])
            assert g["data"]["instance"] == again.pid and g["data"]["total"] == 100, g
            more = add(client, "r", 1)
            assert more["status"] == 200 and more["data"]["total"] == 101, more
        finally:
            assert again.stop() == 0, again.log_tail()

        fresh = tallies()
        wait_serving(client, readers=1)
        g = get(client, "r", min_seq=more["seq"])
        assert g["data"]["instance"] == fresh.pid and g["data"]["total"] == 101, g


def test_sigterm_with_a_parked_read(broker, tallies):
    """A read held for a min_seq not yet reached is answered (503, retry) when the service stops,
    and nothing leaks (the ASan build exits non-zero on a leak)."""
    t = tallies()
    with broker.client() as client:
        wait_serving(client, readers=1)
        rid = client.send_request("tally", "tally.get", {"key": "x"}, min_seq=10**6)
        wait_until(lambda: client.status()["services"]["tally"]["in_flight"] == 1, 5 * SLOW,
                   what="the read sent to the instance")
        # The instance takes requests in order: once it answers this, the read is parked.
        assert client.call("tally", "service.status", {}, 5 * SLOW)["status"] == 200
        assert t.stop() == 0, t.log_tail()
        reply = client.recv_reply(5 * SLOW)
        assert reply["id"] == rid and reply["status"] == 503, reply
        assert reply["error"]["code"] == "min_seq_timeout", reply
