#!/usr/bin/python3
"""An outside integrator (an ERP's order export), written with pyzmq and
msgpack only, as someone who has read docs/integrators.md and nothing of
Rapport's code would write it. tests/system/test_orders_kill.py runs it as
a subprocess; it can also run alone against `make run`:

    /usr/bin/python3 tests/system/integrator_orders.py --broker tcp://127.0.0.1:5555 \\
        --codes C000001,C000002 --log acked.jsonl

It publishes --placed order.placed events (and some order.cancelled) to the
broker's MDP service "journal" (journal.append), in batches of varied size,
to the customers named by --codes:

- some events are sent again with the same id (in a later batch, or twice
  in one batch): the journal must answer "duplicate" with the first seq;
- some orders are sent again under a new id with other figures, half of
  them naming another customer (a corrected copy): the first order.placed
  of an order_no is the one that counts;
- some orders are cancelled (once or twice, some before they are placed,
  some order numbers never placed at all);
- every --lose-every-th batch's reply is "lost" (the request is sent, the
  socket closed before or after the reply arrives, as a dropped
  connection would): the batch is sent again, as it was, on a new socket;
  so is a batch whose reply does not come within --timeout seconds, and
  one answered 503 (no worker, a full queue).

Each acknowledged event (status 200: accepted or duplicate) is written to
--log as one JSON line {id, seq, status, event}, flushed after each batch,
so what the journal promised can be checked against what the CRM shows.
The last line of stdout is a JSON summary. Exit status 0 when every event
was acknowledged, 2 when the journal refused something or an answer does
not follow the documented shape.
"""

import argparse
import json
import random
import sys
import time

import msgpack
import zmq

SOURCE = "kingdee-k3"


def fail(message):
    print(f"integrator: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


class Journal:
    """An MDP 0.1 client (RFC 7, MDPC01) of the broker's service "journal";
    a new DEALER socket after each lost or late answer."""

    def __init__(self, endpoint, timeout_s):
        self.ctx = zmq.Context()
        self.endpoint = endpoint
        self.timeout_ms = int(timeout_s * 1000)
        self.next_id = 0
        self.sock = None
        self.reconnect()

    def reconnect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.endpoint)

    def send(self, op, args):
        self.next_id += 1
        body = msgpack.packb({"id": self.next_id, "op": op, "args": args}, use_bin_type=True)
        self.sock.send_multipart([b"", b"MDPC01", b"journal", body])
        return self.next_id

    def receive(self, rid):
        """The reply to request rid, or None when none came in time (a late
        reply to an earlier request is skipped by its id)."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0 or not self.sock.poll(left):
                return None
            frames = self.sock.recv_multipart()
            if len(frames) != 4 or frames[0] != b"" or frames[1] != b"MDPC01":
                fail(f"not an MDP client reply: {frames!r}")
            reply = msgpack.unpackb(frames[3], raw=False)
            if isinstance(reply, dict) and reply.get("id") == rid:
                return reply

    def close(self):
        self.sock.close(linger=0)
        self.ctx.term()


def plan(args, rng):
    """The batches to publish: lists of events."""
    codes = args.codes.split(",")
    run = args.run
    sent = []           # events sent so far (for resends)
    orders = []         # (order_no, code) placed so far
    cancelled = set()   # order numbers with a cancel planned
    seen = set()        # ids sent so far
    copies = 0          # corrected copies and never-placed cancels (their ids)
    next_order = 0
    placed = 0
    batches = []

    def cancel(order_no, eid):
        return {"type": "order.cancelled", "id": eid, "source": SOURCE,
                "data": {"order_no": order_no, "cancelled_at": "2026-11-30T08:00:00Z",
                         "reason": "客户改单"}}

    def money(cents):
        return cents // 100 if cents % 100 == 0 else cents / 100

    def placed_event(order_no, eid, code):
        month = rng.randint(1, 12)
        event = {"type": "order.placed", "id": eid, "source": SOURCE,
                 "data": {"order_no": order_no, "customer": {"code": code},
                          "amount": money(rng.randint(1, 2_000_000)), "currency": "CNY",
                          "quantity": money(rng.choice([100, 200, 500, 1000, 2550, 12000])),
                          "product": rng.choice(["电力电缆 YJV22 3x95", "控制电缆 KVV 4x1.5",
                                                 "架空绝缘线 JKLYJ 1x120"]),
                          "spec": "GB/T 12706",
                          "placed_at": f"2026-{month:02d}-{rng.randint(1, 28):02d}T09:30:00+08:00"}}
        if rng.random() < 0.3:
            event["data"]["cost"] = money(rng.randint(0, 1_000_000))
        return event

    while placed < args.placed:
        size = min(rng.randint(1, args.batch), args.placed - placed)
        batch = []
        while sum(1 for e in batch if e["type"] == "order.placed") < size:
            r = rng.random()
            if r < 0.04 and sent:
                batch.append(rng.choice(sent))  # the same event again, same id
            elif r < 0.08 and orders:
                order_no, code = rng.choice(orders)  # a corrected copy under a new id,
                copies += 1                          # sometimes naming another customer
                if rng.random() < 0.5:
                    code = rng.choice(codes)
                batch.append(placed_event(order_no, f"K3-{run}-{order_no}-r{copies}", code))
            else:
                n = next_order
                next_order += 1
                order_no = f"SO-{run}-{n:05d}"
                code = rng.choice(codes)
                orders.append((order_no, code))
                batch.append(placed_event(order_no, f"K3-{run}-{n:05d}", code))
            r = rng.random()
            if r < 0.03 and orders:
                order_no, _ = rng.choice(orders)
                if order_no not in cancelled:
                    cancelled.add(order_no)
                    batch.append(cancel(order_no, f"K3-X-{run}-{order_no}"))
                    if rng.random() < 0.3:  # the cancel again under another id
                        batch.append(cancel(order_no, f"K3-X2-{run}-{order_no}"))
            elif r < 0.04:  # a cancel before its order (which then arrives cancelled)
                order_no = f"SO-{run}-{next_order + rng.randint(1, 300):05d}"
                if order_no not in cancelled:
                    cancelled.add(order_no)
                    batch.append(cancel(order_no, f"K3-X-{run}-{order_no}"))
            elif r < 0.045:  # a cancel of an order number never placed
                copies += 1
                order_no = f"SO-{run}-never-{copies}"
                batch.append(cancel(order_no, f"K3-X-{run}-{order_no}"))
        if rng.random() < 0.1:
            batch.append(dict(rng.choice(batch)))  # twice in one batch
        for e in batch:
            if e["id"] not in seen:
                seen.add(e["id"])
                sent.append(e)
        batches.append(batch)
        placed += sum(1 for e in batch if e["type"] == "order.placed")
    return batches


def publish(journal, batch, lose, stats):
    """Send the batch until it is acknowledged; returns the reply's items."""
    while True:
        rid = journal.send("journal.append", {"events": batch})
        if lose:
            lose = False
            stats["lost"] += 1
            stats["lost_events"] += len(batch)
            if stats["lost"] % 2:
                journal.sock.poll(journal.timeout_ms)  # the reply came, and is lost
            journal.reconnect()
            continue
        reply = journal.receive(rid)
        if reply is None:
            stats["timeouts"] += 1
            journal.reconnect()
            continue
        status = reply.get("status")
        if status == 503:
            stats["retries_503"] += 1
            time.sleep(0.05)  # back off a little, then the same batch again
            continue
        if status != 200:
            fail(f"journal.append answered {status}: {reply.get('error')!r}")
        items = (reply.get("data") or {}).get("items")
        if not isinstance(items, list) or len(items) != len(batch):
            fail(f"journal.append answered {len(items or [])} items for {len(batch)}: {reply!r}")
        for event, item in zip(batch, items):
            if (item.get("id") != event["id"] or item.get("status") not in ("accepted", "duplicate")
                    or not isinstance(item.get("seq"), int) or item["seq"] < 1):
                fail(f"a bad item {item!r} for {event['id']}")
        return items


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="tcp://127.0.0.1:5555")
    parser.add_argument("--codes", required=True, help="customer codes, comma-separated")
    parser.add_argument("--log", required=True, help="the acknowledged events, JSON lines")
    parser.add_argument("--placed", type=int, default=10_000, help="order.placed events to send")
    parser.add_argument("--batch", type=int, default=200, help="the most order.placed a batch")
    parser.add_argument("--rate", type=float, default=0, help="order.placed per second (0: no cap)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
    parser.add_argument("--lose-every", type=int, default=0, help="lose every n-th batch's reply")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--run", default="R1", help="a tag in order numbers and ids")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    batches = plan(args, rng)
    journal = Journal(args.broker, args.timeout)
    stats = {"batches": len(batches), "events": 0, "placed": 0, "cancelled": 0, "accepted": 0,
             "duplicate": 0, "lost": 0, "lost_events": 0, "timeouts": 0, "retries_503": 0}
    start = time.monotonic()
    with open(args.log, "w", encoding="utf-8") as log:
        for i, batch in enumerate(batches):
            if args.rate:
                due = start + stats["placed"] / args.rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())  # pacing, as an ERP's export runs
            lose = args.lose_every > 0 and i % args.lose_every == args.lose_every - 1
            items = publish(journal, batch, lose, stats)
            for event, item in zip(batch, items):
                log.write(json.dumps({"id": item["id"], "seq": item["seq"], "status": item["status"],
                                      "event": event}, ensure_ascii=False) + "\n")
                stats[item["status"]] += 1
                stats["events"] += 1
                stats["placed" if event["type"] == "order.placed" else "cancelled"] += 1
            log.flush()
    journal.close()
    stats["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
