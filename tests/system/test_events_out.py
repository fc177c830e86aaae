"""Issue 15, the feed out: GET /api/v1/events, the journal for integrators
over HTTP (services/gateway/feedout.h, docs/integrators.md § Following the
journal over HTTP).

Real processes: the broker, users, the gateway. Pages filtered by types and
chained by next_after see exactly the journal's events, in order, and a page
that scans only what it filters out still moves next_after on; only admin
and integrator keys read; a user's key hash never leaves the gateway. An
event stream (Server-Sent Events) read, dropped and resumed with
Last-Event-ID (on the same gateway or another) sees every event once, in
order, with heartbeats between; the number of open streams is bounded; a
client that stops reading is dropped and resumes; a stopping gateway ends
its streams cleanly.
"""

import http.client
import json
import re
import socket
import urllib.parse

import pytest

from conftest import SLOW, wait_until
from mdp import order_data
from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, bearer, create_user

EVENTS = "/api/v1/events"
STREAMS_MAX = 4


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1,
              env={"RAPPORT_EVENTS_HEARTBEAT_MS": "1000",
                   "RAPPORT_EVENTS_STREAMS_MAX": str(STREAMS_MAX)})
    yield s
    s.stop()


def order(n):
    return {"type": "order.placed", "id": f"K3-{n}", "source": "kingdee-k3",
            "data": order_data(f"SO-{n}", amount=n)}


def publish(gw, events):
    """POST events in batches of 500; their seqs."""
    seqs = []
    for i in range(0, len(events), 500):
        status, _, body = gw.json("POST", EVENTS, {"events": events[i:i + 500]},
                                  {**AUTH, **JSON})
        assert status == 202, body
        assert {item["status"] for item in body["items"]} == {"accepted"}, body
        seqs.extend(item["seq"] for item in body["items"])
    return seqs


def page(gw, headers=AUTH, **query):
    status, _, raw = gw.request("GET", f"{EVENTS}?{urllib.parse.urlencode(query)}",
                                headers=headers)
    assert status == 200, raw
    assert b"key_hash" not in raw, raw
    return json.loads(raw)


def pages(gw, after=0, **query):
    """Every item from after on, following next_after; (items, last next_after)."""
    items = []
    while True:
        body = page(gw, after=after, **query)
        assert body["next_after"] >= after, body
        items.extend(body["items"])
        if body["next_after"] == after:
            return items, after
        after = body["next_after"]


class Stream:
    """One Server-Sent Events connection to the feed."""

    def __init__(self, gw, headers=AUTH, last_event_id=None, **query):
        self.conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10 * SLOW)
        headers = {**headers, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", f"{EVENTS}?{urllib.parse.urlencode(query)}", headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.heartbeats = 0

    def next_event(self):
        """The next event as (id, type, data), counting heartbeats on the way
        (at most 10: a second each here)."""
        for _ in range(10 * int(SLOW) + 1):
            fields, comments = {}, []
            while True:
                line = self.resp.readline()
                assert line, "the stream ended"
                line = line.decode("utf-8").rstrip("\n")
                if not line:
                    if fields or comments:
                        break
                    continue
                if line.startswith(":"):
                    comments.append(line)
                    continue
                name, _, value = line.partition(": ")
                assert name not in fields, line
                fields[name] = value
            if not fields:
                assert comments == [": heartbeat"], comments
                self.heartbeats += 1
                continue
            assert set(fields) == {"id", "event", "data"}, fields
            assert "key_hash" not in fields["data"], fields
            data = json.loads(fields["data"])
            assert data["seq"] == int(fields["id"]) and data["type"] == fields["event"]
            return int(fields["id"]), fields["event"], data
        raise AssertionError("no event, only heartbeats")

    def heartbeat(self):
        """Wait for the next heartbeat; no event comes before it."""
        while True:
            line = self.resp.readline()
            assert line, "the stream ended"
            if line == b": heartbeat\n":
                assert self.resp.readline() == b"\n"
                self.heartbeats += 1
                return
            assert line == b"\n", line

    def events(self, n):
        return [self.next_event() for _ in range(n)]

    def close(self):
        self.conn.close()


def journal_events(stack, prefix="order."):
    with stack.broker.client() as client:
        events, _ = client.read_all()
    return [e for e in events if e["type"].startswith(prefix)]


def test_pages_follow_next_after_with_types(stack):
    gw = stack.gateways[0]
    create_user(gw, name="金蝶K3", email="k3@example.cn", role="integrator")
    seqs = publish(gw, [order(n) for n in range(1, 31)])
    create_user(gw, name="销售", email="s@example.cn", role="sales", team="east")

    # Every order, in pages of 7: what the journal holds, in order, with seq.
    items, last = pages(gw, types="order.*", limit=7)
    assert [i["seq"] for i in items] == seqs
    assert [i["id"] for i in items] == [f"K3-{n}" for n in range(1, 31)]
    assert items[4]["data"] == order_data("SO-5", amount=5) and items[4]["source"] == "kingdee-k3"
    first = page(gw, types="order.*", limit=7)
    assert len(first["items"]) == 7 and first["next_after"] == seqs[6]
    # From the middle; exact types, several patterns.
    body = page(gw, after=seqs[9], types="order.placed", limit=3)
    assert [i["seq"] for i in body["items"]] == seqs[10:13]
    users, _ = pages(gw, types="user.created,lead.*")
    assert [u["type"] for u in users] == ["user.created"] * 2
    # Secrets: user events are served without their key hashes (page()
    # checks no answer has one), nothing else is missing.
    everything, _ = pages(gw, limit=1000)
    assert [e["seq"] for e in everything] == list(range(1, everything[-1]["seq"] + 1))
    created = [e for e in everything if e["type"] == "user.created"]
    assert created and all("key_hash" not in e["data"] and e["data"]["id"] for e in created)
    assert {e["data"]["record"]["email"] for e in created} >= {"k3@example.cn", "s@example.cn"}
    # Past the head: nothing, and next_after stays; the journal's identity.
    body = page(gw, after=last, types="order.*")
    with stack.broker.client() as client:
        journal = client.call("journal", "journal.head", {})["data"]["journal"]
    assert body == {"items": [], "next_after": last, "journal": journal}


def test_a_page_of_nothing_taken_still_moves_on(stack):
    gw = stack.gateways[0]
    seqs = publish(gw, [order(n) for n in range(1, 1201)])
    # No lead in 1,200 orders: each page scans at most 1,000 events and
    # says how far it went, so a client gets to the head in two.
    body = page(gw, types="lead.captured")
    assert body["items"] == [] and seqs[0] <= body["next_after"] < seqs[-1], body
    assert body["next_after"] - 0 == 1000
    second = page(gw, after=body["next_after"], types="lead.captured")
    assert second["items"] == [] and second["next_after"] == seqs[-1], second
    # A full page stops at its last item.
    body = page(gw, types="order.*", limit=1000)
    assert len(body["items"]) == 1000 and body["next_after"] == body["items"][-1]["seq"]


def test_only_admin_and_integrator_keys_read(stack):
    gw = stack.gateways[0]
    erp = create_user(gw, name="金蝶K3", email="k3@example.cn", role="integrator")
    publish(gw, [order(1)])
    body = page(gw, bearer(erp["api_key"]), types="order.*")
    assert [i["id"] for i in body["items"]] == ["K3-1"]
    for role in ("sales", "readonly", "manager"):
        user = create_user(gw, name=role, email=f"{role}@example.cn", role=role, team="east")
        for accept in ("application/json", "text/event-stream"):
            status, headers, raw = gw.request(
                "GET", EVENTS, headers={**bearer(user["api_key"]), "Accept": accept})
            assert_problem(status, headers, raw, 403, "forbidden")
    status, _, raw = gw.request("GET", EVENTS)
    assert status == 401, raw
    # Malformed queries: 422 naming the field, 400 for an unknown one.
    for query, field in (("types=Order.*", "types"), ("types=", "types"),
                         ("types=" + ",".join(["a.*"] * 21), "types"),
                         ("types=" + "a" * 65, "types"), ("limit=0", "limit"),
                         ("limit=1001", "limit"), ("after=-1", "after"), ("after=x", "after")):
        status, headers, raw = gw.request("GET", f"{EVENTS}?{query}", headers=AUTH)
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert [e["field"] for e in problem["errors"]] == [field], problem
    status, headers, raw = gw.request("GET", f"{EVENTS}?colour=red", headers=AUTH)
    assert_problem(status, headers, raw, 400, "bad_query")
    status, headers, raw = gw.request(
        "GET", EVENTS, headers={**AUTH, "Accept": "text/event-stream", "Last-Event-ID": "x"})
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert problem["errors"][0]["field"] == "Last-Event-ID"


def test_a_stream_resumed_sees_every_event_once_in_order(stack):
    gw = stack.gateways[0]
    with stack.broker.client() as client:
        start = client.head()
    publish(gw, [order(n) for n in range(1, 6)])  # before the stream: read from the journal
    stream = Stream(gw, after=start, types="order.*")
    assert stream.status == 200
    assert stream.resp.getheader("Content-Type").startswith("text/event-stream")
    seen = stream.events(5)
    publish(gw, [order(n) for n in range(6, 9)])  # while it is open: pushed as they come
    seen += stream.events(3)
    # Heartbeats keep it open while nothing happens; then the next event.
    stream.heartbeat()
    publish(gw, [order(9)])
    seen.append(stream.next_event())
    stream.close()

    # Gone: more events meanwhile; resumed with Last-Event-ID (which wins
    # over after), it sees the rest, then what comes later.
    publish(gw, [order(n) for n in range(10, 16)])
    again = Stream(gw, last_event_id=seen[-1][0], after=0, types="order.*")
    seen += again.events(6)
    publish(gw, [order(n) for n in range(16, 18)])
    seen += again.events(2)
    again.close()

    journal = journal_events(stack)
    assert [s[0] for s in seen] == [e["seq"] for e in journal]
    assert [s[2]["id"] for s in seen] == [f"K3-{n}" for n in range(1, 18)]
    assert [s[2] for s in seen] == journal


def test_heartbeats_and_secrets_on_a_stream(stack):
    gw = stack.gateways[0]
    stream = Stream(gw, types="user.*")
    assert stream.status == 200
    user = create_user(gw, name="金蝶K3", email="k3@example.cn", role="integrator")
    seq, kind, data = stream.next_event()
    assert kind == "user.created" and data["data"]["id"] == user["id"]
    assert "key_hash" not in data["data"]
    # Nothing more happens: heartbeats come, about one a second here.
    stream.heartbeat()
    stream.heartbeat()
    # A gateway that stops ends its streams: the body's end, not a cut.
    assert gw.stop() == 0
    while stream.resp.readline():
        pass
    assert stream.resp.isclosed()
    stream.close()


def test_open_streams_are_bounded(stack):
    gw = stack.gateways[0]
    first = publish(gw, [order(1)])[0]
    streams = [Stream(gw, types="order.*") for _ in range(STREAMS_MAX)]
    assert [s.status for s in streams] == [200] * STREAMS_MAX
    for s in streams:  # each is really open: it has the first event
        assert s.next_event()[0] == first
    status, headers, raw = gw.request("GET", EVENTS,
                                      headers={**AUTH, "Accept": "text/event-stream"})
    assert_problem(status, headers, raw, 503, "too_many_streams")
    assert "retry-after" in headers
    # Pages are not streams: still served.
    assert page(gw, limit=1)["items"]
    streams.pop().close()

    def another():
        s = Stream(gw)
        if s.status == 200:
            streams.append(s)
            return True
        s.close()
        return False
    wait_until(another, 5 * SLOW, interval=0.05, what="a stream once one closed")
    for s in streams:
        s.close()


def metric(gw, name):
    status, _, raw = gw.request("GET", "/metrics")
    assert status == 200
    for line in raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


@pytest.fixture
def tight(broker_factory, tmp_path):
    """A gateway that keeps at most 4 KiB unwritten for a stream."""
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1,
              env={"RAPPORT_EVENTS_BUFFER_MAX": "4096"})
    yield s
    s.stop()


def test_a_client_that_does_not_read_is_dropped_and_resumes(tight):
    gw = tight.gateways[0]
    publish(gw, [order(0)])
    # A client with a tiny receive window that reads the headers, one
    # event, then nothing more.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10 * SLOW)
    sock.connect(("127.0.0.1", gw.port))
    sock.sendall(f"GET {EVENTS}?types=order.* HTTP/1.1\r\nHost: x\r\n"
                 f"Authorization: {AUTH['Authorization']}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    received = b""
    while b"\n\n" not in received.partition(b"\r\n\r\n")[2]:
        chunk = sock.recv(4096)
        assert chunk, received
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received
    wait_until(lambda: metric(gw, "rapport_gateway_event_streams") == 1, 5 * SLOW)
    # Orders go on coming; the gateway gives up on it once 4 KiB wait.
    n = 1
    while metric(gw, "rapport_gateway_event_streams") == 1:
        assert n < 20000, "the stream was never dropped"
        publish(gw, [order(i) for i in range(n, n + 500)])
        n += 500
    assert metric(gw, "rapport_gateway_event_streams_dropped_total") == 1
    # What it had is cut short: no terminating chunk, then the end.
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    sock.close()
    assert not received.endswith(b"0\r\n\r\n")
    body = b"".join(re.findall(rb"id: \d+\nevent: [a-z.]+\ndata: [^\n]*\n\n", received))
    ids = [int(i) for i in re.findall(rb"id: (\d+)\n", body)]
    assert ids, received[:300]
    # Resumed from the last whole event it read: the rest, once, in order.
    stream = Stream(gw, last_event_id=ids[-1], types="order.*")
    journal = [e["seq"] for e in journal_events(tight)]
    rest = [s[0] for s in stream.events(len(journal) - len(ids))]
    stream.close()
    assert ids + rest == journal


def test_any_gateway_resumes_a_stream(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=2)
    try:
        first, second = s.gateways
        with s.broker.client() as client:
            start = client.head()
        publish(first, [order(n) for n in range(1, 4)])
        stream = Stream(first, after=start, types="order.*")
        seen = stream.events(3)
        stream.close()
        publish(first, [order(n) for n in range(4, 7)])
        again = Stream(second, last_event_id=seen[-1][0], types="order.*")
        seen += again.events(3)
        again.close()
        assert [e[0] for e in seen] == [e["seq"] for e in journal_events(s)]
    finally:
        s.stop()
