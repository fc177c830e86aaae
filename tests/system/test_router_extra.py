"""The router's finer points (docs/protocol.md § Request router, § Leases), driven by raw
DEALER sockets so each test controls every frame: load balancing ties, protocol errors
from registered workers, stray replies, the lease grant message and its ordering, the
broker's own services, and shutdown without lease changes."""

import zmq

import mdp
from conftest import SLOW, wait_until

P, U = mdp.pack, mdp.unpack
W = mdp.MDPW


class RawWorker:
    """A DEALER speaking MDPW01 by hand."""

    def __init__(self, endpoint, service, credit=None, identity=None):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        if identity is not None:
            self.sock.setsockopt(zmq.IDENTITY, identity)
        self.sock.connect(endpoint)
        self.service = service.encode()
        self.credit = credit
        self.ready()

    def ready(self):
        frames = [b"", W, mdp.READY, self.service]
        if self.credit is not None:
            frames.append(P({"credit": self.credit}))
        self.sock.send_multipart(frames)

    def send(self, *frames):
        self.sock.send_multipart([b"", W, *frames])

    def recv(self, timeout=5.0, skip_heartbeats=True):
        """The next frames after [b"", MDPW01] (heartbeats skipped); None on timeout."""
        while self.sock.poll(int(timeout * 1000 * SLOW)):
            frames = self.sock.recv_multipart()
            assert frames[:2] == [b"", W], frames
            if not (skip_heartbeats and frames[2] == mdp.HEARTBEAT):
                return frames[2:]
        return None

    def request(self, timeout=5.0):
        """The next REQUEST as (client, body decoded)."""
        frames = self.recv(timeout)
        assert frames and frames[0] == mdp.REQUEST and len(frames) == 4 and frames[2] == b"", \
            frames
        return frames[1], U(frames[3])

    def reply(self, client, body):
        self.send(mdp.REPLY, client, b"", P(body))

    def close(self):
        self.sock.close(0)


def registered(client, service, n=1):
    wait_until(lambda: client.status()["services"].get(service, {}).get("workers") == n,
               10 * SLOW, what=f"{n} workers for {service}")


def test_ties_go_to_the_worker_that_waited_longest(broker):
    a = RawWorker(broker.endpoint, "lru")
    b = RawWorker(broker.endpoint, "lru")
    try:
        with broker.client() as client:
            registered(client, "lru", 2)
            for _ in range(3):
                # Both free: the one that was given work least recently takes it.
                first, second = a, b
                rid = client.send_request("lru", "x", {})
                frames = first.recv(0.5)
                if frames is None:
                    first, second = b, a
                    frames = first.recv(5)
                assert frames[0] == mdp.REQUEST
                first.reply(frames[1], {"id": rid, "status": 200})
                assert client.recv_reply()["id"] == rid
                # The other one has now waited longer: it gets the next request.
                rid = client.send_request("lru", "x", {})
                c, body = second.request()
                assert body["id"] == rid
                second.reply(c, {"id": rid, "status": 200})
                assert client.recv_reply()["id"] == rid
                assert first.recv(0.2) is None
    finally:
        a.close()
        b.close()


def test_most_free_credit_wins(broker):
    big = RawWorker(broker.endpoint, "credit.pick", credit=3)
    small = RawWorker(broker.endpoint, "credit.pick")
    try:
        with broker.client() as client:
            registered(client, "credit.pick", 2)
            for i in range(2):  # big has 3, then 2 free: more than small's 1
                client.send_request("credit.pick", "x", {"n": i})
                assert big.request()[1]["args"] == {"n": i}
            # A tie at 1 free: small has gone longer without work.
            client.send_request("credit.pick", "x", {"n": 2})
            assert small.request()[1]["args"] == {"n": 2}
            client.send_request("credit.pick", "x", {"n": 3})
            assert big.request()[1]["args"] == {"n": 3}
            client.send_request("credit.pick", "x", {"n": 4})  # nobody free: queued
            assert big.recv(0.3) is None and small.recv(0.1) is None
            service = client.status()["services"]["credit.pick"]
            assert service["queued"] == 1 and service["in_flight"] == 4, service
    finally:
        big.close()
        small.close()


def test_malformed_reply_disconnects_the_worker(broker):
    w = RawWorker(broker.endpoint, "bad.reply")
    try:
        with broker.client() as client:
            registered(client, "bad.reply")
            rid = client.send_request("bad.reply", "x", {})
            c, _ = w.request()
            w.send(mdp.REPLY, c)  # no empty frame, no body
            assert w.recv() == [mdp.DISCONNECT]
            reply = client.recv_reply()
            assert reply["id"] == rid and reply["status"] == 503, reply
            assert reply["error"]["code"] == "worker_lost", reply
            assert client.mmi("bad.reply") == "404"
    finally:
        w.close()


def test_stray_replies_are_dropped(broker):
    w = RawWorker(broker.endpoint, "stray")
    try:
        with broker.client() as client, broker.client() as other:
            registered(client, "stray")
            # The other client's address, as the broker sees it, via a real request.
            rid = other.send_request("stray", "x", {})
            other_addr, _ = w.request()
            w.reply(other_addr, {"id": rid, "status": 200})
            assert other.recv_reply()["id"] == rid
            # Replies to an empty address, and to a client with nothing in flight here.
            w.reply(b"", {"id": 0, "status": 200})
            w.reply(other_addr, {"id": 99, "status": 200})
            w.reply(b"\x00nobody", {"id": 98, "status": 200})
            assert not other.sock.poll(int(300 * SLOW)), "a stray reply was delivered"
            # The worker is still in service.
            rid = client.send_request("stray", "x", {})
            c, body = w.request()
            w.reply(c, {"id": body["id"], "status": 200})
            assert client.recv_reply()["id"] == rid
    finally:
        w.close()


def grant_of(frames):
    """The lease.granted body of a REQUEST with an empty client address."""
    assert frames and frames[0] == mdp.REQUEST and frames[1] == b"" and frames[2] == b"", frames
    body = U(frames[3])
    assert body["id"] == 0 and body["op"] == "lease.granted", body
    return body["args"]


def test_lease_grant_message_and_promotion(broker):
    holder = RawWorker(broker.endpoint, "w.writer")
    standby = None
    try:
        # The standby registers only once the holder has its grant: two
        # READYs sent at once may reach the broker in either order.
        args = grant_of(holder.recv())
        standby = RawWorker(broker.endpoint, "w.writer")
        assert args["service"] == "w" and args["epoch"] >= 1
        epoch = args["epoch"]
        with broker.client() as client:
            registered(client, "w.writer", 2)
            rid = client.send_request("w.writer", "cmd", {})
            c, body = holder.request()
            assert body["id"] == rid
            assert standby.recv(0.2) is None
            # The holder leaves with the request in flight: worker_lost, then promotion.
            holder.send(mdp.DISCONNECT)
            reply = client.recv_reply()
            assert reply["id"] == rid and reply["error"]["code"] == "worker_lost", reply
            old_token = args["token"]
            args = grant_of(standby.recv())
            # Issue 13: the grant carries a new lease token (128 random bits, hex).
            token = args.pop("token")
            assert args == {"service": "w", "epoch": epoch + 1}
            assert len(token) == 32 and token != old_token, (token, old_token)
            # The old epoch is fenced off, the new one accepted (with its token).
            ev = {"type": "w.done", "id": "w-1", "source": "t", "data": {}}
            old = client.append([ev], writer="w", epoch=epoch, token=old_token)
            assert old["status"] == 409 and old["error"]["code"] == "stale_epoch", old
            new = client.append([ev], writer="w", epoch=epoch + 1, token=token)
            assert new["status"] == 200, new
            rid = client.send_request("w.writer", "cmd", {})
            c, body = standby.request()
            assert body["id"] == rid
    finally:
        holder.close()
        if standby:
            standby.close()


def test_requests_wait_for_the_grant(broker_factory):
    """A writer request queued before any holder is sent only after lease.granted."""
    b = broker_factory({"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "20000"})
    with b.client() as client:
        rid = client.send_request("q.writer", "cmd", {})
        w = RawWorker(b.endpoint, "q.writer")
        try:
            grant_of(w.recv())  # first the grant ...
            c, body = w.request()  # ... then the queued request
            assert body["id"] == rid
        finally:
            w.close()


def test_holder_reregistering_under_one_identity_gets_the_live_epoch(broker):
    """READY, DISCONNECT, READY from one identity: the answer to the first GRANT must not
    be taken for the second; the worker is told the epoch the journal holds live."""
    w = RawWorker(broker.endpoint, "id.writer", identity=b"fixed-identity")
    try:
        w.send(mdp.DISCONNECT)
        w.ready()
        args = grant_of(w.recv())
        epoch = args["epoch"]
        with broker.client() as client:
            ev = {"type": "id.done", "id": "id-1", "source": "t", "data": {}}
            r = client.append([ev], writer="id", epoch=epoch, token=args["token"])
            assert r["status"] == 200, (epoch, r)
        assert w.recv(0.5) is None, "a second grant arrived"
    finally:
        w.close()


def test_broker_services(broker):
    with broker.client() as client:
        for name in ("journal", "broker.status", "mmi.service"):
            assert client.mmi(name) == "200", name
        assert client.mmi("x", mmi_service="mmi.other") == "501"
        client.send("broker.status", b"\xc1")
        reply = client.recv_reply()
        assert reply["status"] == 400 and reply["error"]["code"] == "bad_request", reply


def test_bad_service_names_are_dropped(broker):
    with broker.client() as client:
        for name in (b"with\x00nul", b"ctrl\x01", b"x" * 256, b""):
            client.sock.send_multipart([b"", mdp.MDPC, name, P({"id": 1, "op": "x"})])
        assert client.head() == 0
        assert not client.unmatched
        names = client.status()["services"]
        assert not any(n.startswith(("with", "ctrl", "xxx")) for n in names), names
    w = zmq.Context.instance().socket(zmq.DEALER)
    w.linger = 0
    w.connect(broker.endpoint)
    try:
        w.send_multipart([b"", W, mdp.READY, b"bad\x07name"])
        assert w.poll(int(5000 * SLOW)) and w.recv_multipart() == [b"", W, mdp.DISCONNECT]
    finally:
        w.close()


def test_broker_heartbeats_its_workers(broker):
    w = RawWorker(broker.endpoint, "beats")
    try:
        frames = w.recv(2 * mdp.HEARTBEAT_INTERVAL, skip_heartbeats=False)
        assert frames == [mdp.HEARTBEAT], frames
    finally:
        w.close()


def test_sigterm_changes_no_lease(broker):
    """Shutting down promotes nobody: after a restart the next grant is epoch + 1."""
    holder = RawWorker(broker.endpoint, "st.writer")
    standby = None
    try:
        epoch = grant_of(holder.recv())["epoch"]
        standby = RawWorker(broker.endpoint, "st.writer")  # after the grant: see above
        with broker.client() as client:
            registered(client, "st.writer", 2)
        broker.restart()
    finally:
        holder.close()
        if standby:
            standby.close()
    w = RawWorker(broker.endpoint, "st.writer")
    try:
        assert grant_of(w.recv(10))["epoch"] == epoch + 1
    finally:
        w.close()
