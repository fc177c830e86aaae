"""Issue 2, "Bad input": hostile frames and bodies get an error reply or are dropped,
the broker's memory stays bounded, and it keeps serving everybody else."""


import zmq

import mdp
from conftest import SLOW, rss_kib, wait_until

P = mdp.pack


def with_raw(obj, placeholder, raw):
    """Pack obj, then swap the bytes of one placeholder str for raw bytes of the same length
    (how we get strings that are not UTF-8 past a well-behaved packer)."""
    packed = P(obj)
    ph = placeholder.encode()
    assert len(ph) == len(raw) and packed.count(ph) == 1
    return packed.replace(ph, raw)


def head_of(rid, op, args_key):
    """The bytes of a 3-entry request map up to (and including) the key of its third entry."""
    return b"\x83" + P("id") + P(rid) + P("op") + P(op) + P(args_key)


def good_event(n=0, **over):
    e = {"type": "order.placed", "id": f"bad-input-{n}", "source": "tests/bad",
         "data": mdp.order_data(f"bad-input-{n}")}
    e.update(over)
    return e


def append_body(rid, events):
    return P({"id": rid, "op": "journal.append", "args": {"events": events}})


# -- bodies sent to the journal: each must get a 4xx reply with an error code --------

UNDECODABLE = {  # the reply's id is nil: nothing could be read
    "empty body": b"",
    "never-used byte 0xc1": b"\xc1",
    "map header 2^31 entries": b"\xdf\x80\x00\x00\x00",
    "array header 2^32-1": b"\xdd\xff\xff\xff\xff",
    "str header 2^31 bytes": b"\xdb\x7f\xff\xff\xff" + b"abc",
    "truncated map": P({"id": 1, "op": "journal.head", "args": {}})[:-3],
    "trailing bytes": P({"id": 1, "op": "journal.head", "args": {}}) + b"\x00",
    "body is an array": P([1, "journal.head"]),
    "body is an int": P(7),
    "body is a str": P("journal.head"),
}


def decodable_bad(base):
    """[(name, id, body, allowed statuses)] for bodies that decode far enough to echo `id`;
    the ids are base, base + 1, …"""
    cases = []

    def add(name, make, allowed, ids=None):
        """ids: the ids the reply may carry; default just rid. A body that is no valid
        MessagePack as a whole gets id nil (protocol.md), one with a non-UTF-8 str may be
        refused by the decoder (nil) or by the checks after it (rid)."""
        rid = base + len(cases)
        cases.append((name, {rid} if ids is None else ids(rid), make(rid), allowed))

    def nil(rid):
        return {None}

    def either(rid):
        return {rid, None}

    def args_raw(raw):
        return lambda rid: head_of(rid, "journal.append", "args") + raw

    # envelopes
    add("no op", lambda rid: P({"id": rid}), {400})
    add("op not a str", lambda rid: P({"id": rid, "op": 5}), {400})
    add("op not UTF-8", lambda rid: with_raw({"id": rid, "op": "QQQQ"}, "QQQQ",
                                             b"\xff\xfe\xfd\xfc"), {400}, either)
    add("unknown op", lambda rid: P({"id": rid, "op": "journal.explode", "args": {}}),
        set(range(400, 500)))
    add("args not a map", lambda rid: P({"id": rid, "op": "journal.append", "args": [1]}),
        {400, 422})
    add("nested map header 2^31", args_raw(b"\xdf\x80\x00\x00\x00"), {400}, nil)
    add("events array header 2^32-1",
        args_raw(b"\x81" + P("events") + b"\xdd\xff\xff\xff\xff"), {400}, nil)
    add("bin header 2^32-1", args_raw(b"\xc6\xff\xff\xff\xff" + b"x"), {400}, nil)
    add("ext header 2^31", args_raw(b"\xc9\x7f\xff\xff\xff\x01" + b"x"), {400}, nil)
    add("100,000 nested arrays", args_raw(b"\x91" * 100_000 + b"\xc0"), {400, 422}, either)
    add("min_seq not a number",
        lambda rid: P({"id": rid, "op": "journal.head", "min_seq": "x"}), {400})
    add("idem not a str", lambda rid: P({"id": rid, "op": "journal.head", "idem": [1]}), {400})
    add("idem of 5,000 chars", lambda rid: P({"id": rid, "op": "journal.append", "idem": "k" * 5000,
                                              "args": {"events": [good_event(rid)]}}), {400})
    # journal.append arguments
    add("no events", lambda rid: P({"id": rid, "op": "journal.append", "args": {}}), {400, 422})
    add("events not an array",
        lambda rid: P({"id": rid, "op": "journal.append", "args": {"events": "x"}}), {400, 422})
    add("1001 events", lambda rid: append_body(rid, [good_event(i) for i in range(1001)]),
        {400, 413, 422})
    # journal.read arguments
    add("from_seq a str",
        lambda rid: P({"id": rid, "op": "journal.read", "args": {"from_seq": "1"}}), {400})
    add("from_seq negative",
        lambda rid: P({"id": rid, "op": "journal.read", "args": {"from_seq": -5}}), {400})
    # events (the second of two is bad: the whole append is refused, details.index = 1)
    bad_events = [
        ("event not a map", lambda n: 5),
        ("no type", lambda n: {"id": "e", "source": "s", "data": {}}),
        ("empty type", lambda n: good_event(n, type="")),
        ("upper-case type", lambda n: good_event(n, type="Order.Placed")),
        ("type with a space", lambda n: good_event(n, type="order placed")),
        ("non-ASCII type", lambda n: good_event(n, type="订单.placed")),
        ("type of 129 chars", lambda n: good_event(n, type="a" * 129)),
        ("type not a str", lambda n: good_event(n, type=12)),
        ("no id", lambda n: {"type": "order.placed", "source": "s", "data": {}}),
        ("empty id", lambda n: good_event(n, id="")),
        ("id not a str", lambda n: good_event(n, id=42)),
        ("no source", lambda n: {"type": "order.placed", "id": "e", "data": {}}),
        ("empty source", lambda n: good_event(n, source="")),
        ("no data", lambda n: {"type": "order.placed", "id": "e", "source": "s"}),
    ]
    for name, ev in bad_events:
        add(f"bad event: {name}", lambda rid, ev=ev: append_body(rid, [good_event(rid), ev(rid)]),
            {422})
    utf8 = [
        ("type not UTF-8", {"type": "TTTT"}, "TTTT"),
        ("id not UTF-8", {"id": "IIII"}, "IIII"),
        ("data str not UTF-8", {"data": {"name": "DDDD"}}, "DDDD"),
        ("data key not UTF-8", {"data": {"KKKK": 1}}, "KKKK"),
    ]
    for name, over, ph in utf8:
        # a UTF-16 surrogate (not valid UTF-8), then an invalid byte
        add(name, lambda rid, over=over, ph=ph: with_raw(
            {"id": rid, "op": "journal.append", "args": {"events": [good_event(0, **over)]}},
            ph, b"\xed\xa0\x80\xff"), {400, 422}, either)
    return cases


DECODABLE_COUNT = len(decodable_bad(0))


def check_error_reply(reply, allowed, name, ids):
    assert reply.get("status") in allowed, f"{name}: {reply!r}"
    assert reply.get("id") in ids, f"{name}: id {reply.get('id')!r}, expected one of {ids!r}"
    error = reply.get("error")
    assert isinstance(error, dict) and isinstance(error.get("code"), str) and error["code"], \
        f"{name}: no error code in {reply!r}"
    assert "data" not in reply, f"{name}: {reply!r}"


def journal_round(client, rid_base, check_details=False):
    """Every bad body once, one at a time; each must be answered with an error."""
    for name, body in UNDECODABLE.items():
        client.send("journal", body)
        reply = client.recv_reply(10 * SLOW)
        check_error_reply(reply, {400}, name, {None})
        assert reply["error"]["code"] == "bad_request", f"{name}: {reply!r}"
    for name, ids, body, allowed in decodable_bad(rid_base):
        client.send("journal", body)
        reply = client.recv_reply(10 * SLOW)
        check_error_reply(reply, allowed, name, ids)
        if check_details and name.startswith("bad event"):
            assert reply["error"]["code"] == "bad_event", f"{name}: {reply!r}"
            assert reply["error"].get("details", {}).get("index") == 1, f"{name}: {reply!r}"


# -- frames: dropped (no reply), workers told DISCONNECT ---------------------------

CLIENT_FRAMES = [
    ("one empty frame", [b""]),
    ("too few frames", [b"", b"MDPC01", b"journal"]),
    ("no delimiter", [b"MDPC01", b"journal", P({"id": 1, "op": "journal.head"})]),
    ("delimiter not empty", [b"x", b"MDPC01", b"journal", P({"id": 1, "op": "journal.head"})]),
    ("wrong protocol", [b"", b"MDPC02", b"journal", P({"id": 1, "op": "journal.head"})]),
    ("garbage protocol", [b"", b"\xff" * 300, b"journal", b"x"]),
    ("empty protocol", [b"", b"", b"journal", b"x"]),
]


def frames_round(client):
    """Send every bad client framing on the normal client's socket, then a good request:
    the next thing the client receives must be the good reply (the bad ones got nothing)."""
    for name, frames in CLIENT_FRAMES:
        client.sock.send_multipart(frames)
    reply = client.call("journal", "journal.head", {}, timeout=10 * SLOW)
    assert reply["status"] == 200, reply
    assert not client.unmatched, f"bad frames were answered: {client.unmatched!r}"


def worker_socket(ctx, endpoint):
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(endpoint)
    return s


W = mdp.MDPW
WORKER_FRAMES = [  # sent by peers the broker does not know (no READY before)
    ("unknown command", [b"", W, b"\x09"]),
    ("command 0x00", [b"", W, b"\x00"]),
    ("empty command", [b"", W, b""]),
    ("two-byte command", [b"", W, b"\x01\x01", b"svc"]),
    ("heartbeat before ready", [b"", W, mdp.HEARTBEAT]),
    ("reply before ready", [b"", W, mdp.REPLY, b"\x00\x01\x02\x03\x04", b"", b"body"]),
    ("ready without service", [b"", W, mdp.READY]),
    ("ready, 1,000-byte service", [b"", W, mdp.READY, b"s" * 1000]),
    ("ready, empty service", [b"", W, mdp.READY, b""]),
    ("ready, options 2^31 map", [b"", W, mdp.READY, b"bad.opts", b"\xdf\x80\x00\x00\x00"]),
    ("ready, options 0xc1", [b"", W, mdp.READY, b"bad.opts", b"\xc1"]),
    ("ready, credit 0", [b"", W, mdp.READY, b"bad.opts", P({"credit": 0})]),
    ("ready, credit 10^9", [b"", W, mdp.READY, b"bad.opts", P({"credit": 10**9})]),
    ("ready, credit a str", [b"", W, mdp.READY, b"bad.opts", P({"credit": "lots"})]),
    ("ready, extra frames", [b"", W, mdp.READY, b"bad.opts", P({}), b"x", b"y"]),
    ("worker, no delimiter", [W, mdp.READY, b"bad.opts"]),
    ("worker, wrong protocol", [b"", b"MDPW02", mdp.READY, b"bad.opts"]),
]


def worker_round(ctx, endpoint):
    """Every bad worker message, each on its own socket (returned, to be closed later):
    none may crash the broker or disturb the real workers."""
    socks = []
    for name, frames in WORKER_FRAMES:
        s = worker_socket(ctx, endpoint)
        s.send_multipart(frames)
        socks.append((name, s))
    return socks


def test_unknown_command_gets_disconnect(broker):
    ctx = zmq.Context.instance()
    # From a registered worker ...
    s = worker_socket(ctx, broker.endpoint)
    s.send_multipart([b"", W, mdp.READY, b"known.worker"])
    with broker.client() as client:
        wait_until(lambda: client.mmi("known.worker") == "200", 10 * SLOW, what="registration")
    s.send_multipart([b"", W, b"\x09"])
    assert s.poll(int(5000 * SLOW)), "no DISCONNECT after an unknown command"
    frames = s.recv_multipart()
    assert frames == [b"", W, mdp.DISCONNECT], frames
    s.close()
    # ... and from one that never said READY.
    s = worker_socket(ctx, broker.endpoint)
    s.send_multipart([b"", W, b"\x09"])
    assert s.poll(int(5000 * SLOW)), "no DISCONNECT to an unknown worker"
    assert s.recv_multipart() == [b"", W, mdp.DISCONNECT]
    s.close()
    s = worker_socket(ctx, broker.endpoint)
    s.send_multipart([b"", W, mdp.HEARTBEAT])
    assert s.poll(int(5000 * SLOW)), "no DISCONNECT to an unknown worker's heartbeat"
    assert s.recv_multipart() == [b"", W, mdp.DISCONNECT]
    s.close()


def test_bad_journal_bodies_get_error_replies(broker):
    with broker.client() as client:
        head = client.head()
        journal_round(client, 1000, check_details=True)
        assert client.head() == head, "a bad append was written"


def test_worker_cannot_take_over_broker_services(broker):
    """A worker saying READY for journal, broker.status or mmi.service must not get their
    requests: the broker keeps answering them itself."""
    ctx = zmq.Context.instance()
    rogues = []
    for name in (b"journal", b"broker.status", b"mmi.service"):
        s = worker_socket(ctx, broker.endpoint)
        s.send_multipart([b"", W, mdp.READY, name])
        rogues.append(s)
    with broker.client() as client:
        for _ in range(20):
            assert client.head() >= 0
            assert "services" in client.status()
            assert client.mmi("no.such.service") == "404"
    for s in rogues:
        while s.poll(0):
            frames = s.recv_multipart()
            assert frames[2] != mdp.REQUEST, f"a rogue worker got a request: {frames!r}"
        s.close()


def test_broker_survives_hostile_input_with_bounded_memory(broker):
    ctx = zmq.Context.instance()
    echo = broker.worker("echo").start()
    sockets = []
    try:
        with broker.client() as client, broker.client() as normal:
            wait_until(lambda: normal.mmi("echo") == "200", 10 * SLOW, what="echo registered")

            def still_serving(i):
                r = normal.call("echo", "echo", {"i": i}, timeout=10 * SLOW)
                assert r["status"] == 200 and r["data"] == {"i": i}, r
                r = normal.append([good_event(i)], timeout=10 * SLOW)
                assert r["status"] == 200, r

            # Warm up: every path once, so lazily grown buffers are in the baseline.
            journal_round(client, 1)
            frames_round(client)
            sockets += worker_round(ctx, broker.endpoint)
            still_serving(0)
            baseline = rss_kib(broker.pid)

            messages = 0
            rounds = 120
            for r in range(1, rounds + 1):
                journal_round(client, 100_000 * r)
                frames_round(client)
                messages += len(UNDECODABLE) + DECODABLE_COUNT + len(CLIENT_FRAMES)
                if r % 10 == 0:
                    for _, s in sockets:
                        s.close(0)
                    sockets = worker_round(ctx, broker.endpoint)
                    messages += len(WORKER_FRAMES)
                    oversized(ctx, broker.endpoint)
                    messages += 2
                still_serving(r)
            assert broker.alive()
            grown_mib = (rss_kib(broker.pid) - baseline) / 1024
            print(f"RSS {baseline / 1024:.1f} MiB, grew {grown_mib:.1f} MiB over {messages} bad messages")
            assert messages > 3000
            assert grown_mib < 50, f"RSS grew {grown_mib:.1f} MiB over {messages} bad messages"
            # Nothing from all that traffic reached the echo worker but the good requests.
            assert echo.served == rounds + 1
            assert not echo.errors, echo.errors
    finally:
        for _, s in sockets:
            s.close(0)
        echo.stop()


def oversized(ctx, endpoint):
    """A 5 MiB client request and a 5 MiB READY: libzmq drops those connections."""
    big = b"\x00" * (5 * 1024 * 1024)
    for frames in ([b"", b"MDPC01", b"journal", big], [b"", W, mdp.READY, big]):
        s = ctx.socket(zmq.DEALER)
        s.connect(endpoint)
        s.send_multipart(frames)
        s.close(linger=2000)  # let the bytes leave; the broker cuts the connection


def test_oversized_message_is_refused_and_others_served(broker):
    ctx = zmq.Context.instance()
    big_body = P({"id": 1, "op": "journal.append",
                  "args": {"events": [good_event(0, blob=b"\x00" * (5 << 20))]}})
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(broker.endpoint)
    s.send_multipart([b"", b"MDPC01", b"journal", big_body])
    with broker.client() as client:
        # A just-under-limit request still works.
        ok = client.append([good_event(1, blob=b"\x01" * (2 << 20))],
                           timeout=20 * SLOW)
        assert ok["status"] == 200, {k: ok[k] for k in ok if k != "data"}
        assert client.head() == 1, "the oversized append was written"
    assert not s.poll(500), "an oversized request was answered"
    s.close()


def test_bad_bodies_on_the_worker_path(broker):
    """Bodies for a worker's service are MDP-opaque: the broker either refuses a bad one
    (400 bad_request) or passes it through untouched; a worker's garbage reply reaches
    the client (or becomes an error) without harming the broker."""
    raw = broker.worker("raw", lambda body: body).start()  # echoes the exact bytes
    garbage = broker.worker("garbage", lambda body: b"\xdf\x80\x00\x00\x00").start()
    try:
        with broker.client() as client:
            wait_until(lambda: client.mmi("raw") == "200" and client.mmi("garbage") == "200",
                       10 * SLOW, what="workers registered")
            bodies = list(UNDECODABLE.values()) + [b for _, _, b, _ in decodable_bad(1)]
            for body in bodies:
                client.send("raw", body)
                service, reply = client.recv(10 * SLOW)
                assert service == "raw"
                if reply != body:
                    decoded = mdp.unpack(reply)
                    assert decoded["status"] == 400 and decoded["error"]["code"] == "bad_request", \
                        decoded
            for i in range(20):
                client.send_request("garbage", "x", {"i": i})
                service, reply = client.recv(10 * SLOW)
                assert service == "garbage"
            r = client.call("raw", "echo", {"still": "serving"})
            assert r["args"] == {"still": "serving"}  # raw echoes the whole request
            assert client.head() == 0
        assert not raw.errors and not garbage.errors
    finally:
        raw.stop()
        garbage.stop()


def test_dropped_frames_are_logged(broker):
    """protocol.md: a dropped message leaves a log line (we look for words such a line uses)."""
    words = ("drop", "malformed", "invalid", "unknown", "bad", "wrong", "refus", "ignor")

    def complaints():
        return sum(1 for line in broker.log_text().lower().splitlines()
                   if any(w in line for w in words))

    before = complaints()
    with broker.client() as client:
        frames_round(client)
    wait_until(lambda: complaints() > before, 5 * SLOW,
               what="a log line about the dropped frames")
