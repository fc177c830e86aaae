"""A pure-Python Majordomo (RFC 7/MDP 0.1) client and worker for the system tests.

Built only on pyzmq and msgpack, independent of Rapport's C code, so the tests
prove that any MDP peer interoperates with the broker (docs/protocol.md).

    client → broker   ["", "MDPC01", service, body]
    broker → client   ["", "MDPC01", service, body]
    worker → broker   ["", "MDPW01", 0x01, service, options?]      READY
                      ["", "MDPW01", 0x03, client, "", body]       REPLY
                      ["", "MDPW01", 0x04] / ["", "MDPW01", 0x05]  HEARTBEAT / DISCONNECT
    broker → worker   ["", "MDPW01", 0x02, client, "", body]       REQUEST
                      0x04 HEARTBEAT, 0x05 DISCONNECT

A lease holder of `S.writer` is told its epoch by a REQUEST whose client
address is empty and whose body is {id: 0, op: "lease.granted",
args: {service, epoch, token}}; the worker must not reply to it. Its appends
as writer S carry {writer: S, epoch, token}: without the token the journal
refuses them (docs/protocol.md § Journal, "Ownership and fencing").

Run as a program, it is a worker in its own process (so a test can kill -9 it):

    mdp.py worker ENDPOINT SERVICE

It prints "ready" once READY is sent and "granted EPOCH TOKEN" for every grant, and
answers every request with {id, status: 200, data: {pid, service, args}}.
"""

import os
import queue
import sys
import threading
import time

import msgpack
import zmq

MDPC = b"MDPC01"
MDPW = b"MDPW01"
READY = b"\x01"
REQUEST = b"\x02"
REPLY = b"\x03"
HEARTBEAT = b"\x04"
DISCONNECT = b"\x05"

HEARTBEAT_INTERVAL = 2.5  # seconds, both directions
HEARTBEAT_LIVENESS = 3  # a peer silent this many intervals is dead


def order_data(order_no, amount=1, **extra):
    """The data of a valid order.placed (an integrator event the journal
    checks against its schema, docs/events.md), with extra keys merged in
    only where the schema has them (spec, cost)."""
    data = {"order_no": str(order_no), "customer": {"code": "K3-001"}, "amount": amount,
            "currency": "CNY", "quantity": 1, "product": "电缆 YJV 3x95",
            "placed_at": "2026-11-23T08:00:00Z"}
    data.update(extra)
    return data


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


class Client:
    """An MDP client on one DEALER socket; requests are correlated by `id`.

    Use it from one thread only (zmq sockets are not thread-safe).
    """

    def __init__(self, endpoint, ctx=None):
        self.ctx = ctx or zmq.Context.instance()
        self.endpoint = endpoint
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self._next_id = 1
        self.unmatched = []  # replies that arrived for ids we no longer waited for

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw frames ---------------------------------------------------------

    def send(self, service, body):
        """Send one request; body is bytes (sent as is) or an object (packed)."""
        if not isinstance(body, (bytes, bytearray)):
            body = pack(body)
        if isinstance(service, str):
            service = service.encode()
        self.sock.send_multipart([b"", MDPC, service, body])

    def recv(self, timeout=10.0):
        """One reply as (service, body bytes); raises TimeoutError."""
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no reply within {timeout} s")
        frames = self.sock.recv_multipart()
        assert len(frames) == 4, f"reply has {len(frames)} frames: {frames!r}"
        assert frames[0] == b"", frames
        assert frames[1] == MDPC, frames
        return frames[2].decode(), frames[3]

    # -- msgpack envelopes --------------------------------------------------

    def new_id(self):
        rid = self._next_id
        self._next_id += 1
        return rid

    def send_request(self, service, op, args=None, rid=None, **envelope):
        """Send {id, op, args, **envelope}; returns the id (pipelining)."""
        if rid is None:
            rid = self.new_id()
        body = {"id": rid, "op": op}
        if args is not None:
            body["args"] = args
        body.update(envelope)
        self.send(service, body)
        return rid

    def recv_reply(self, timeout=10.0):
        """The next reply body, decoded (any id)."""
        _, body = self.recv(timeout)
        reply = unpack(body)
        assert isinstance(reply, dict), f"reply is not a map: {reply!r}"
        return reply

    def call(self, service, op, args=None, timeout=10.0, **envelope):
        """One request and its reply (other ids arriving meanwhile are kept aside)."""
        rid = self.send_request(service, op, args, **envelope)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {service} {op} within {timeout} s")
            reply = self.recv_reply(left)
            if reply.get("id") == rid:
                return reply
            self.unmatched.append(reply)

    def mmi(self, name, mmi_service="mmi.service", timeout=10.0):
        """RFC 8 MMI: the reply body ("200", "404", "501") as a str."""
        self.send(mmi_service, name.encode() if isinstance(name, str) else name)
        service, body = self.recv(timeout)
        assert service == mmi_service, (service, body)
        return body.decode()

    # -- broker services ----------------------------------------------------

    def head(self, timeout=10.0):
        reply = self.call("journal", "journal.head", {}, timeout)
        assert reply["status"] == 200, reply
        return reply["data"]["head"]

    def append(self, events, timeout=10.0, writer=None, epoch=None, token=None, **envelope):
        args = {"events": events}
        if writer is not None:
            args["writer"] = writer
        if epoch is not None:
            args["epoch"] = epoch
        if token is not None:
            args["token"] = token
        return self.call("journal", "journal.append", args, timeout, **envelope)

    def read_all(self, from_seq=1, page=1000, timeout=10.0):
        """Every event from from_seq to the head, paged; returns (events, head)."""
        events = []
        seq = from_seq
        while True:
            reply = self.call("journal", "journal.read", {"from_seq": seq, "max": page}, timeout)
            assert reply["status"] == 200, reply
            data = reply["data"]
            batch = data["events"]
            events.extend(batch)
            if not batch or batch[-1]["seq"] >= data["head"]:
                return events, data["head"]
            seq = batch[-1]["seq"] + 1

    def status(self, timeout=10.0):
        reply = self.call("broker.status", "status", {}, timeout)
        assert reply["status"] == 200, reply
        return reply["data"]


def echo_handler(body):
    """Reply {id, status: 200, data: args} to a msgpack request."""
    request = unpack(body)
    return pack({"id": request.get("id"), "status": 200, "data": request.get("args")})


class Worker:
    """An MDP worker in its own thread: READY, heartbeats, reconnect, replies.

    handler(body bytes) returns the reply body (bytes) or None for no reply.
    Grants of a `.writer` lease are recorded in self.epochs (a queue),
    self.epoch and self.token (the lease token of that epoch); they are never
    answered. on_grant(epoch, token) is called for each.
    """

    def __init__(self, endpoint, service, handler=echo_handler, credit=None, ctx=None,
                 heartbeat=HEARTBEAT_INTERVAL, on_grant=None, owns=None):
        self.ctx = ctx or zmq.Context.instance()
        self.endpoint = endpoint
        self.service = service.encode() if isinstance(service, str) else service
        self.handler = handler
        self.credit = credit
        self.heartbeat = heartbeat
        self.on_grant = on_grant
        self.owns = owns  # a writer's claimed event-type prefixes, sent in READY
        self.epoch = None
        self.token = None
        self.epochs = queue.Queue()
        self.served = 0
        self.connects = 0
        self.disconnects_received = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = None
        self._sock = None

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"worker-{self.service.decode()}")
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "worker thread did not stop"

    def wait_grant(self, timeout):
        """The next epoch granted, or raise TimeoutError."""
        try:
            return self.epochs.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no lease.granted within {timeout} s") from None

    # -- the loop -----------------------------------------------------------

    def _connect(self):
        if self._sock is not None:
            self._sock.close(0)
        self._sock = self.ctx.socket(zmq.DEALER)
        self._sock.linger = 0
        self._sock.connect(self.endpoint)
        frames = [b"", MDPW, READY, self.service]
        if self.credit is not None or self.owns is not None:
            options = {"credit": self.credit or 1}
            if self.owns is not None:
                options["owns"] = self.owns
            frames.append(pack(options))
        self._sock.send_multipart(frames)
        self.connects += 1

    def _send(self, *frames):
        self._sock.send_multipart([b"", MDPW, *frames])

    def _handle(self, frames):
        if len(frames) < 3 or frames[0] != b"" or frames[1] != MDPW:
            self.errors.append(f"bad frames from broker: {frames!r}")
            return True
        command = frames[2]
        if command == REQUEST:
            if len(frames) != 6 or frames[4] != b"":
                self.errors.append(f"bad REQUEST: {frames!r}")
                return True
            client, body = frames[3], frames[5]
            if client == b"":
                self._grant(body)
                return True
            self.served += 1
            reply = self.handler(body) if self.handler else None
            if reply is not None:
                self._send(REPLY, client, b"", reply)
        elif command == HEARTBEAT:
            pass
        elif command == DISCONNECT:
            self.disconnects_received += 1
            return False
        else:
            self.errors.append(f"unknown command from broker: {frames!r}")
        return True

    def _grant(self, body):
        grant = unpack(body)
        if grant.get("op") != "lease.granted":
            self.errors.append(f"empty-address REQUEST that is no grant: {grant!r}")
            return
        epoch = grant["args"]["epoch"]
        if grant["args"].get("service") + ".writer" != self.service.decode():
            self.errors.append(f"grant for another service: {grant!r}")
        self.token = grant["args"].get("token")
        if not isinstance(self.token, str) or not self.token:
            self.errors.append(f"grant without a lease token: {grant!r}")
        self.epoch = epoch
        self.epochs.put(epoch)
        if self.on_grant:
            self.on_grant(epoch, self.token)

    def run(self):
        self._connect()
        last_heard = time.monotonic()
        next_beat = last_heard + self.heartbeat
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                wait = max(0.0, min(next_beat - now, 0.1))
                if self._sock.poll(int(wait * 1000)):
                    frames = self._sock.recv_multipart()
                    last_heard = time.monotonic()
                    if not self._handle(frames):
                        self._connect()  # DISCONNECT: register again
                        next_beat = time.monotonic() + self.heartbeat
                        continue
                now = time.monotonic()
                if now - last_heard > self.heartbeat * HEARTBEAT_LIVENESS:
                    self._connect()  # broker is gone: reconnect and register again
                    last_heard = now
                    next_beat = now + self.heartbeat
                elif now >= next_beat:
                    self._send(HEARTBEAT)
                    next_beat = now + self.heartbeat
            self._send(DISCONNECT)
            self._sock.close(linger=1000)  # let DISCONNECT leave before the socket goes
        finally:
            if not self._sock.closed:
                self._sock.close(0)
            self._sock = None


def _main(argv):
    if len(argv) != 4 or argv[1] != "worker":
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, service = argv[2], argv[3]
    pid = os.getpid()

    def handler(body):
        request = unpack(body)
        return pack({"id": request.get("id"), "status": 200,
                     "data": {"pid": pid, "service": service, "args": request.get("args")}})

    def on_grant(epoch, token):
        print(f"granted {epoch} {token}", flush=True)

    worker = Worker(endpoint, service, handler, on_grant=on_grant)
    worker.start()
    print("ready", flush=True)
    try:
        while worker._thread.is_alive():
            worker._thread.join(0.5)
    except KeyboardInterrupt:
        worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
