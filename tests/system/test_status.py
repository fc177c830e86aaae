"""Issue 2: broker.status reports workers per service, leases with epochs, journal head."""

import mdp
from conftest import SLOW, wait_until


def test_broker_status(broker):
    echoes = [broker.worker("echo").start() for _ in range(2)]
    writer = broker.worker("s.writer").start()
    standby = None
    try:
        epoch = writer.wait_grant(10 * SLOW)
        standby = broker.worker("s.writer").start()
        with broker.client() as client:
            for i in range(3):
                r = client.append([{"type": "order.placed", "id": f"st-{i}", "source": "t",
                                    "data": mdp.order_data(f"st-{i}")}])
                assert r["status"] == 200, r

            def complete():
                st = client.status()
                leases = st["leases"]
                lease = leases.get("s") or leases.get("s.writer")
                standbys = lease and lease.get("standbys")
                standbys = len(standbys) if isinstance(standbys, list) else standbys
                return (st["services"].get("echo", {}).get("workers") == 2
                        and lease and standbys == 1 and st) or None
            status = wait_until(complete, 10 * SLOW, what="status with 2 echo workers, 1 standby")
            echo = status["services"]["echo"]
            assert echo["queued"] == 0 and echo["in_flight"] == 0, echo
            lease = status["leases"].get("s") or status["leases"].get("s.writer")
            assert lease["holder"] is True and lease["epoch"] == epoch, lease
            assert status["journal"]["head"] == 3 == client.head()
            assert "no.such.service" not in status["services"]

            # A reply's envelope is the usual one.
            reply = client.call("broker.status", "anything", {})
            assert reply["status"] == 200 and "data" in reply

            # Per worker: what it was sent (one at a time, the longest idle
            # first, so two workers share four requests evenly); these
            # workers gave no instance name in READY, so it is nil.
            for i in range(4):
                assert client.call("echo", "ping", {"i": i})["status"] == 200
            status = client.status()
            echo = status["services"]["echo"]
            assert [w["served"] for w in echo["instances"]] == [2, 2], echo
            assert all(w["instance"] is None and w["in_flight"] == 0
                       for w in echo["instances"]), echo
            lease = status["leases"].get("s") or status["leases"].get("s.writer")
            assert lease["holder_instance"] is None, lease
    finally:
        for w in echoes + [writer] + ([standby] if standby else []):
            w.stop()


def test_broker_status_counts_queued_requests(broker):
    with broker.client() as client:
        client.send_request("idle.service", "x", {})
        client.send_request("idle.service", "x", {})
        st = wait_until(lambda: (lambda s: s["services"].get("idle.service", {}).get("queued") == 2
                                 and s)(client.status()), 3 * SLOW, what="2 queued")
        assert st["services"]["idle.service"]["workers"] == 0
        # They expire with 503 after the request timeout (5 s by default) — don't wait here;
        # the broker must still exit cleanly with requests queued.


def test_vacant_lease_stays_listed(broker):
    """A lease whose last worker left is reported vacant, not forgotten:
    the gateway's /ready relies on it to see a service without a writer."""
    writer = broker.worker("v.writer").start()
    epoch = writer.wait_grant(10 * SLOW)
    writer.stop()  # DISCONNECT: the lease is vacated at once
    with broker.client() as client:
        def vacant():
            lease = client.status()["leases"].get("v")
            return lease if lease and not lease["holder"] else None
        lease = wait_until(vacant, 5 * SLOW, what="vacant lease v")
        assert lease["epoch"] == epoch and lease["standbys"] == 0, lease
        assert client.status()["services"]["v.writer"]["workers"] == 0
