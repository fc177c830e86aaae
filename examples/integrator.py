#!/usr/bin/python3
"""An integrator's program, written with pyzmq and msgpack only (Debian:
python3-zmq, python3-msgpack): it publishes events to Rapport over ZeroMQ
and follows the journal's feed. Read docs/integrators.md beside it.

    /usr/bin/python3 examples/integrator.py [broker endpoint] [feed endpoint]

(defaults tcp://127.0.0.1:5555 and tcp://127.0.0.1:5556, as `make run`).

1. It subscribes to the feed first (so nothing committed after its start is
   missed), then publishes two orders of an ERP and sends the same batch
   again: the second answer says "duplicate" with the first seqs.
2. It sends an order with a bad amount: 422, nothing appended.
3. It reads the feed until it has seen its orders, and replays any gap it
   notices through journal.read (the feed is PUB/SUB: a slow subscriber may
   lose frames; the journal keeps everything).
"""

import struct
import sys
import time
import uuid

import msgpack
import zmq

BROKER = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
FEED = sys.argv[2] if len(sys.argv) > 2 else "tcp://127.0.0.1:5556"
SOURCE = "kingdee-k3"


class Journal:
    """An MDP client (RFC 7, MDPC01) of the broker's service "journal"."""

    def __init__(self, ctx, endpoint):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.next_id = 0

    def call(self, op, args, timeout_s=10):
        self.next_id += 1
        body = msgpack.packb({"id": self.next_id, "op": op, "args": args}, use_bin_type=True)
        self.sock.send_multipart([b"", b"MDPC01", b"journal", body])
        if not self.sock.poll(timeout_s * 1000):
            raise TimeoutError(f"{op}: no answer from {BROKER}")
        frames = self.sock.recv_multipart()
        return msgpack.unpackb(frames[3], raw=False)

    def append(self, events):
        return self.call("journal.append", {"events": events})

    def read(self, from_seq, max_events=100):
        return self.call("journal.read", {"from_seq": from_seq, "max": max_events})


def order(n, amount):
    return {"type": "order.placed", "id": f"SO-{RUN}-{n}", "source": SOURCE,
            "data": {"order_no": f"SO-{RUN}-{n}", "customer": {"code": "C000001"},
                     "amount": amount, "currency": "CNY", "quantity": 2,
                     "product": "电力电缆 YJV22 3x95", "placed_at": "2026-11-23T16:05:00+08:00"}}


RUN = uuid.uuid4().hex[:8]


def main():
    ctx = zmq.Context()
    feed = ctx.socket(zmq.SUB)
    feed.setsockopt(zmq.SUBSCRIBE, b"order.")  # a prefix of event types
    feed.setsockopt(zmq.SUBSCRIBE, b"$head")   # the head, once a second
    feed.connect(FEED)
    # No wait for the subscription to join: whatever it misses, the $head
    # frames reveal and journal.read replays (step 3).
    journal = Journal(ctx, BROKER)

    batch = [order(1, 1200.5), order(2, 99)]
    first = journal.append(batch)
    assert first["status"] == 200, first
    print("appended:", [(i["id"], i["seq"], i["status"]) for i in first["data"]["items"]])
    again = journal.append(batch)
    assert [i["status"] for i in again["data"]["items"]] == ["duplicate", "duplicate"], again
    assert again["data"]["seqs"] == first["data"]["seqs"]
    print("sent again:", [(i["id"], i["seq"], i["status"]) for i in again["data"]["items"]])

    bad = journal.append([order(3, 1.005)])
    assert bad["status"] == 422, bad
    print("refused:", bad["error"]["code"], bad["error"]["details"]["errors"][0]["field"])

    wanted = set(first["data"]["seqs"])
    cursor = min(wanted) - 1  # a real integrator keeps its cursor on disk
    deadline = time.time() + 10
    while wanted and time.time() < deadline:
        if not feed.poll(500):
            continue
        frames = feed.recv_multipart()
        seq = struct.unpack(">Q", frames[1])[0]
        if frames[0] == b"$head" or seq > cursor + 1:  # a gap, or events we have not seen
            page = journal.read(cursor + 1)["data"]
            events = [e for e in page["events"] if e["type"].startswith("order.")]
            if page["events"]:
                cursor = page["events"][-1]["seq"]
        else:
            events = [msgpack.unpackb(frames[2], raw=False)]
            cursor = seq
        for event in events:
            if event["seq"] in wanted:
                wanted.discard(event["seq"])
                print("fed:", event["seq"], event["type"], event["data"]["order_no"])
    assert not wanted, f"not seen on the feed: {sorted(wanted)}"
    print("ok")
    ctx.destroy(linger=0)


if __name__ == "__main__":
    main()
