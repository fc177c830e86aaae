"""Issue 2, "Fencing": one writer per service, epochs, promotion of a standby.

Issue 13: an append in a writer's name needs the lease token the broker gave
the holder in lease.granted, not only the name and the epoch (both of which
broker.status shows to anyone)."""

import os
import subprocess
import sys
import threading
import time

import mdp
import test_customers as tc
import test_users as tu
from conftest import SLOW, wait_until
from test_customers import customers  # noqa: F401 (fixture)
from test_users import users  # noqa: F401 (fixture)

MDP_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mdp.py")


def thing(n, type_="x.thing"):
    """An event of type_; an order.placed gets an order's data (the journal
    checks integrator events), the owned types the same (their owners'
    business)."""
    return {"type": type_, "id": f"thing-{n}", "source": "tests/fencing",
            "data": mdp.order_data(f"thing-{n}")}


class WorkerProcess:
    """mdp.py worker in its own process (so it can be kill -9'd); collects its grants."""

    def __init__(self, endpoint, service):
        self.proc = subprocess.Popen([sys.executable, MDP_PY, "worker", endpoint, service],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.grants = []
        self.tokens = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.decode().strip()
            self.lines.append(line)
            if line.startswith("granted "):
                _, epoch, token = line.split()
                self.tokens[int(epoch)] = token
                self.grants.append(int(epoch))

    def wait_grant(self, timeout):
        wait_until(lambda: self.grants or self.proc.poll() is not None, timeout,
                   what="lease.granted in the worker process")
        assert self.grants, f"worker exited: {self.lines}"
        return self.grants[0]

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            self.kill9()


def lease_of(status, service):
    """broker.status leases entry for a writer service (keyed "x" or "x.writer")."""
    leases = status["leases"]
    return leases.get(service) or leases.get(service + ".writer")


def standbys(entry):
    s = entry.get("standbys", 0) if entry else 0
    return len(s) if isinstance(s, (list, tuple)) else s


def test_standby_promoted_after_holder_killed(broker):
    holder = WorkerProcess(broker.endpoint, "x.writer")
    standby = None
    try:
        e1 = holder.wait_grant(10 * SLOW)
        assert e1 >= 1
        standby = broker.worker("x.writer").start()
        with broker.client() as client:
            wait_until(lambda: standbys(lease_of(client.status(), "x")) == 1, 10 * SLOW,
                       what="one standby for x.writer")
            assert standby.epoch is None, "a standby was granted the lease"
            entry = lease_of(client.status(), "x")
            assert entry["epoch"] == e1 and entry["holder"] is True, entry

            # Requests for x.writer go to the holder only.
            for _ in range(5):
                reply = client.call("x.writer", "hello", {"k": 1})
                assert reply["status"] == 200 and reply["data"]["pid"] == holder.proc.pid, reply
            assert standby.served == 0

            # The holder's epoch writes; any other epoch is stale.
            t1 = holder.tokens[e1]
            ok = client.append([thing(1)], writer="x", epoch=e1, token=t1)
            assert ok["status"] == 200, ok
            for wrong in (e1 + 1, e1 + 7, 0, e1 - 1):
                bad = client.append([thing(2)], writer="x", epoch=wrong, token=t1)
                assert bad["status"] == 409, (wrong, bad)
                assert bad["error"]["code"] == "stale_epoch", (wrong, bad)
            head_before = client.head()

            # kill -9 the holder: the standby is promoted within 10 s, epoch + 1 or more.
            t0 = time.monotonic()
            holder.kill9()
            e2 = standby.wait_grant(10.0)
            promoted_after = time.monotonic() - t0
            assert e2 > e1, (e1, e2)
            assert promoted_after <= 10.0, promoted_after

            stale = client.append([thing(3)], writer="x", epoch=e1, token=t1)
            assert stale["status"] == 409 and stale["error"]["code"] == "stale_epoch", stale
            # The live epoch with the deposed holder's token: refused too.
            forged = client.append([thing(3)], writer="x", epoch=e2, token=t1)
            assert forged["status"] == 403 and forged["error"]["code"] == "bad_token", forged
            assert client.head() == head_before, "a refused append was written"
            assert standby.token and standby.token != t1
            fresh = client.append([thing(4)], writer="x", epoch=e2, token=standby.token)
            assert fresh["status"] == 200, fresh
            assert fresh["data"]["seqs"] == [head_before + 1]

            entry = lease_of(client.status(), "x")
            assert entry["epoch"] == e2 and entry["holder"] is True, entry
            reply = client.call("x.writer", "hello", {})
            assert reply["status"] == 200 and standby.served == 1
        assert not standby.errors, standby.errors
        # The standby waited > 7.5 s without reconnecting: the broker's heartbeats reached it.
        assert standby.connects == 1
    finally:
        holder.close()
        if standby:
            standby.stop()


def test_ownership_of_event_types(broker):
    worker = broker.worker("x.writer").start()
    try:
        epoch = worker.wait_grant(10 * SLOW)
        with broker.client() as client:
            # Owned type without a writer: not_owner.
            r = client.append([thing(1)])
            assert r["status"] == 403 and r["error"]["code"] == "not_owner", r
            token = worker.token
            # Owned type from another writer: not_owner.
            r = client.append([thing(2)], writer="y", epoch=epoch, token=token)
            assert r["status"] in (403, 409), r
            # A service's own types from its writer, mixed with integrator types: fine.
            r = client.append([thing(3), thing(4, "order.placed")], writer="x", epoch=epoch,
                              token=token)
            assert r["status"] == 200, r
            # Integrator types need no writer.
            r = client.append([thing(5, "order.placed")])
            assert r["status"] == 200, r
            # Types owned by a configured service (customers → customer.) are refused to others.
            r = client.append([thing(6, "customer.created")])
            assert r["status"] == 403 and r["error"]["code"] == "not_owner", r
            r = client.append([thing(7, "customer.created")], writer="x", epoch=epoch,
                              token=token)
            assert r["status"] == 403 and r["error"]["code"] == "not_owner", r
            # A writer whose lease is vacant is stale.
            r = client.append([thing(8, "customer.created")], writer="customers", epoch=1)
            assert r["status"] == 409 and r["error"]["code"] == "stale_epoch", r
            # A refused append is refused whole.
            head = client.head()
            r = client.append([thing(9, "order.placed"), thing(10)])
            assert r["status"] == 403, r
            assert client.head() == head
    finally:
        worker.stop()


def test_clean_disconnect_promotes_at_once(broker):
    first = broker.worker("y.writer").start()
    second = None
    try:
        e1 = first.wait_grant(10 * SLOW)
        second = broker.worker("y.writer").start()
        with broker.client() as client:
            wait_until(lambda: standbys(lease_of(client.status(), "y")) == 1, 10 * SLOW,
                       what="one standby for y.writer")
        t0 = time.monotonic()
        first.stop()  # DISCONNECT: no need to wait for heartbeats
        e2 = second.wait_grant(5 * SLOW)
        assert e2 == e1 + 1
        assert time.monotonic() - t0 < 2.5 * SLOW
    finally:
        first.stop()
        if second:
            second.stop()


def test_epochs_grow_across_restarts(broker):
    w = broker.worker("z.writer").start()
    e1 = w.wait_grant(10 * SLOW)
    w.stop()
    broker.restart()
    w = broker.worker("z.writer").start()
    try:
        e2 = w.wait_grant(10 * SLOW)
        assert e2 > e1
        with broker.client() as client:
            r = client.append([thing(1, "z.made")], writer="z", epoch=e1)
            assert r["status"] == 409 and r["error"]["code"] == "stale_epoch", r
            r = client.append([thing(2, "z.made")], writer="z", epoch=e2, token=w.token)
            assert r["status"] == 200, r
    finally:
        w.stop()


def test_forged_writer_is_refused_while_the_real_one_writes(broker, customers, users):
    """A peer of the broker's port that knows a service's writer name and its live
    epoch (broker.status tells anyone) but not the lease token cannot append as that
    writer: not user.created (which would mint an admin API key), not
    customer.updated; the real services keep writing."""
    customers()
    users()
    with broker.client() as client:
        tc.wait_serving(client, readers=1)
        tu.wait_serving(client, readers=1)
        leases = client.status()["leases"]
        cust_epoch, users_epoch = leases["customers"]["epoch"], leases["users"]["epoch"]
        assert leases["customers"]["holder"] and leases["users"]["holder"], leases
        created = tc.create(client, tc.SALES_A, name="真公司")
        assert created["status"] == 200, created
        cid = created["data"]["id"]
        head = client.head()

        mint = {"type": "user.created", "id": "forged-1", "source": "users",
                "data": {"id": "u-forged", "key_hash": "0" * 64,
                         "record": {"name": "Mallory", "email": "m@evil.example",
                                    "role": "admin", "team": ""}}}
        rewrite = {"type": "customer.updated", "id": "forged-2", "source": "customers",
                   "data": {"id": cid, "changes": {"name": "被改写"}}}
        for event, writer, epoch in ((mint, "users", users_epoch),
                                     (rewrite, "customers", cust_epoch)):
            for token in (None, "", "0" * 32, "f" * 32):
                r = client.append([event], writer=writer, epoch=epoch, token=token)
                assert r["status"] == 403, (writer, token, r)
                assert r["error"]["code"] == "bad_token", (writer, token, r)
            # Without a writer: owned types are not the integrators'.
            r = client.append([event])
            assert r["status"] == 403 and r["error"]["code"] == "not_owner", r
        assert client.head() == head, "a forged append was written"
        events, _ = client.read_all()
        assert not [e for e in events if e["id"].startswith("forged-")]

        # The real writers go on, with the same epochs.
        r = tc.write(client, "customers.update", {"id": cid, "grade": "B"}, tc.SALES_A)
        assert r["status"] == 200, r
        u = tu.create(client, name="Real", email="real@example.cn", role="sales", team="east")
        assert u["status"] == 200, u
        leases = client.status()["leases"]
        assert leases["customers"]["epoch"] == cust_epoch
        assert leases["users"]["epoch"] == users_epoch
        assert tu.read(client, "users.get", {"id": "u-forged"}, min_seq=u["seq"])["status"] == 404
        g = tc.read(client, "customers.get", {"id": cid}, tc.SALES_A, min_seq=r["seq"])
        assert g["status"] == 200 and g["data"]["name"] == "真公司", g


def test_ownership_comes_from_the_writers_registration(broker):
    """A new service owns the prefixes its writer claims in READY ({owns: [...]}), with
    no broker change; the claim is kept across a restart; a claim of a prefix another
    service owns (config reserves customer. for customers) gets DISCONNECT."""
    deals = broker.worker("deals.writer", owns=["deal.", "quote."]).start()
    rogue = None
    try:
        epoch = deals.wait_grant(10 * SLOW)
        with broker.client() as client:
            won = thing(1, "deal.won")
            r = client.append([won])
            assert r["status"] == 403 and r["error"]["code"] == "not_owner", r
            r = client.append([thing(2, "quote.sent")], writer="x", epoch=1)
            assert r["status"] in (403, 409), r
            r = client.append([won], writer="deals", epoch=epoch, token=deals.token)
            assert r["status"] == 200, r

            rogue = broker.worker("rogue.writer", owns=["customer."]).start()
            wait_until(lambda: rogue.disconnects_received >= 1, 10 * SLOW,
                       what="DISCONNECT for a writer claiming customer.")
            assert rogue.epoch is None, "a writer claiming another's prefix got the lease"
            r = client.append([thing(3, "customer.created")])
            assert r["status"] == 403, r
            rogue.stop()
            rogue = None
        assert "overlaps a prefix of customers" in broker.log_text()
        deals.stop()
        broker.restart()
        with broker.client() as client:
            # Stored with the epochs: still deals' before its writer comes back.
            r = client.append([thing(4, "deal.lost")])
            assert r["status"] == 403 and r["error"]["code"] == "not_owner", r
            assert client.append([thing(5, "order.placed")])["status"] == 200
    finally:
        deals.stop()
        if rogue:
            rogue.stop()
