"""Issue 13, "A lost journal is taken for a new one": the journal has an identity
(made at creation) that every service store records with its cursor. A store that
finds another journal, or a head behind its cursor, refuses to serve (it does not
register its workers, and says why in its log) unless told to rebuild
(RAPPORT_STORE_REBUILD=1: empty the store, replay the new journal). A write is never
answered with an outcome that is not its own.

The gateway keeps nothing that is not folded from the journal, so it does not
refuse: it starts over in the new journal (its users' keys, cached reads and
callers' seqs emptied, replayed from seq 1), and serves the rebuilt instance at once.

Real processes: the broker, rapport-customers and rapport-gateway."""

import os
import shutil

from conftest import SLOW, wait_until
from process import ServiceProcess
from test_customers import ADMIN, BINARY, Customers
from test_gateway import AUTH, JSON, Gateway

BASE = "/api/v1/customers"


def post(gw, name):
    return gw.json("POST", BASE, {"name": name}, {**AUTH, **JSON})


def registered(client, service):
    return client.status()["services"].get(service, {}).get("workers", 0)


def test_a_lost_journal_is_refused_then_rebuilt(broker_factory, tmp_path):
    broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})
    store = tmp_path / "customers0"
    customers = Customers(broker, store)
    gw = Gateway(broker, tmp_path / "gateway").wait_ready()
    refusing = rebuilt = None
    try:
        gw.wait_customers()
        with broker.client() as client:
            first = client.call("journal", "journal.head", {})["data"]["journal"]
            assert len(first) == 32, first
        created = []
        for name in ("甲公司", "乙公司", "丙公司"):
            status, _, body = post(gw, name)
            assert status == 201, body
            created.append(body)

        # The journal is lost: the broker comes back empty, with a new identity.
        broker.stop()
        shutil.rmtree(os.path.join(broker.data_dir, "broker", "journal"))
        broker.start()
        with broker.client() as client:
            second = client.call("journal", "journal.head", {})["data"]
            assert second["head"] == 0 and second["journal"] != first, second

            # A write at once, before the feed has shown anything: its append is
            # answered by the new journal, which the writer refuses (503), so it
            # never gets the stored outcome of the old seq 1 (another's 201).
            for attempt in range(20):
                status, _, body = post(gw, "丁公司")
                assert status != 201, ("a write answered with another's outcome", body)
                if not customers.alive():
                    break
            # The running instance sees it ($head behind its cursor, or an append
            # answered by another journal) and stops rather than serve from it.
            wait_until(lambda: not customers.alive(), 15 * SLOW,
                       what="customers to stop on the lost journal")
            assert customers.proc.returncode == 1
            customers.killed = True
            log = open(customers.log_path, encoding="utf-8", errors="replace").read()
            assert "behind the cursor 3" in log or "not the one" in log or "counts in" in log, \
                customers.log_tail()

            # Started again on that store: it refuses, registers no worker.
            refusing = Customers(broker, store)
            wait_until(lambda: "refusing to serve" in open(
                refusing.log_path, encoding="utf-8", errors="replace").read(), 15 * SLOW,
                what="the refusal in the log")
            assert refusing.alive()
            assert registered(client, "customers") == 0
            assert registered(client, "customers.writer") == 0

            # A write is never answered with another's outcome: no 201 at all.
            for name in ("丁公司", "戊公司"):
                status, _, body = post(gw, name)
                assert status != 201 and status >= 500, (status, body)
            assert refusing.stop() == 0
            refusing = None

            # Told to rebuild: it empties its store and serves the new journal.
            rebuilt = ServiceProcess("customers", BINARY, broker, store,
                                     env={"RAPPORT_STORE_REBUILD": "1"})
            wait_until(lambda: registered(client, "customers.writer") == 1
                       and client.status()["leases"]["customers"]["holder"], 15 * SLOW,
                       what="the rebuilt instance serving")
            # Through the same running gateway, at once: it followed the new journal
            # (user keys, cached reads and callers' seqs folded again from its seq 1,
            # so no min_seq of the old journal holds the write), and says so in its log.
            answers = []

            def created_through_gateway():
                answers.append(gw.json("POST", BASE, {"name": "己公司"},
                                       {**AUTH, **JSON, "Idempotency-Key": "rebuilt-1"}))
                return answers[-1][0] == 201

            wait_until(created_through_gateway, 5 * SLOW, interval=0.2,
                       what="a POST through the gateway on the rebuilt instance")
            assert all(a[0] in (201, 503) for a in answers), answers
            body = answers[-1][2]
            log = open(gw.log_path, encoding="utf-8", errors="replace").read()
            assert "starting over" in log, gw.log_tail()
            assert body["id"] not in [c["id"] for c in created]
            assert body["name"] == "己公司" and body["version"] == 1
            # Its store holds the new journal's records only.
            page = client.call("customers", "customers.list", {}, actor=ADMIN)
            assert page["status"] == 200, page
            names = {c["name"] for c in page["data"]["items"]}
            # (丁公司 if the first write reached the new journal before it was refused)
            assert "己公司" in names and names <= {"己公司", "丁公司"}, names
            log = open(rebuilt.log_path, encoding="utf-8", errors="replace").read()
            assert "emptying the store" in log, rebuilt.log_tail()
    finally:
        codes = {}
        for name, proc in (("gateway", gw), ("refusing", refusing), ("rebuilt", rebuilt),
                           ("customers", None if customers.killed else customers)):
            if proc is not None:
                codes[name] = proc.stop()
        assert all(code == 0 for code in codes.values()), codes
