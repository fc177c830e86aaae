"""Issue 2, "Durability": acknowledged appends survive kill -9; idem keys survive restarts."""

import re
import threading
import time

import mdp
from conftest import SLOW, wait_until

APPENDERS = 4
EVENTS_TOTAL = 10_000
BATCH = 5  # events per append
WINDOW = 8  # appends in flight per appender
RETRY_S = 2.0 * SLOW  # resend an unanswered append after this long
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def make_event(appender, n):
    return {
        "type": "order.placed",
        "id": f"a{appender}-{n}",
        "source": f"tests/appender-{appender}",
        "data": mdp.order_data(f"{appender}-{n}", amount=n * 1.25,
                           spec=f"上海华东客户有限公司 #{n} café ✓ 🚀"),
    }


class Appender(threading.Thread):
    """Appends its share in batches of BATCH, WINDOW appends pipelined, each with an idem key.

    An append without a reply after RETRY_S is sent again with the same idem
    key (and the same request id): a broker killed mid-way loses it or not,
    and the journal must not append it twice either way.
    """

    def __init__(self, endpoint, index, count):
        super().__init__(daemon=True, name=f"appender-{index}")
        self.endpoint = endpoint
        self.index = index
        self.batches = [[make_event(index, n) for n in range(start, min(start + BATCH, count))]
                        for start in range(0, count, BATCH)]
        self.acked = {}  # batch index → seqs
        self.acked_events = 0
        self.resends = 0
        self.duplicates = 0
        self.errors = []
        self.stop_at = time.monotonic() + 150 * SLOW

    def idem(self, b):
        return f"durability-{self.index}-{b}"

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the test
            self.errors.append(f"{type(e).__name__}: {e}")

    def _send(self, client, b):
        client.send_request("journal", "journal.append", {"events": self.batches[b]},
                            rid=b, idem=self.idem(b))

    def _run(self):
        client = mdp.Client(self.endpoint)
        sent_at = {}  # batch → last send time, for appends not yet acknowledged
        next_b = 0
        try:
            while len(self.acked) < len(self.batches):
                if time.monotonic() > self.stop_at:
                    self.errors.append(f"gave up with {len(self.acked)} appends acknowledged")
                    return
                while next_b < len(self.batches) and len(sent_at) < WINDOW:
                    self._send(client, next_b)
                    sent_at[next_b] = time.monotonic()
                    next_b += 1
                try:
                    reply = client.recv_reply(0.1)
                except TimeoutError:
                    reply = None
                if reply is not None:
                    self._on_reply(reply, sent_at)
                now = time.monotonic()
                for b, t in list(sent_at.items()):
                    if now - t > RETRY_S:
                        self._send(client, b)
                        sent_at[b] = now
                        self.resends += 1
        finally:
            client.close()

    def _on_reply(self, reply, sent_at):
        b = reply.get("id")
        if not isinstance(b, int) or not 0 <= b < len(self.batches):
            self.errors.append(f"reply with an id we never sent: {reply!r}")
            return
        status = reply.get("status")
        if status != 200:
            if isinstance(status, int) and status >= 500:
                return  # the broker is in trouble: retry later with the same idem key
            self.errors.append(f"append {b} refused: {reply!r}")
            sent_at.pop(b, None)
            self.acked[b] = None
            return
        seqs = reply["data"]["seqs"]
        if reply["data"].get("duplicate"):
            self.duplicates += 1
        if b in self.acked:
            if self.acked[b] != seqs:
                self.errors.append(f"append {b} acknowledged twice with different seqs: "
                                   f"{self.acked[b]} then {seqs}")
            return
        self.acked[b] = seqs
        self.acked_events += len(seqs)
        sent_at.pop(b, None)


def test_kill9_midway_loses_no_acknowledged_event(broker):
    per = EVENTS_TOTAL // APPENDERS
    appenders = [Appender(broker.endpoint, i, per) for i in range(APPENDERS)]
    for a in appenders:
        a.start()

    # Kill the broker once about a third of the events are acknowledged.
    wait_until(lambda: sum(a.acked_events for a in appenders) >= EVENTS_TOTAL // 3
               or any(a.errors for a in appenders), 60 * SLOW, interval=0.005,
               what="a third of the events acknowledged")
    broker.kill9()
    acked_before_kill = sum(a.acked_events for a in appenders)
    assert acked_before_kill < EVENTS_TOTAL, "too fast: every event was in before the kill"
    broker.start()

    for a in appenders:
        a.join(160 * SLOW)
        assert not a.is_alive(), f"{a.name} still running"
    print(f"acknowledged before kill -9: {acked_before_kill}; resends "
          f"{sum(a.resends for a in appenders)}, duplicate replies "
          f"{sum(a.duplicates for a in appenders)}")
    errors = [e for a in appenders for e in a.errors]
    assert not errors, errors[:10]

    with broker.client() as client:
        events, head = client.read_all()
    check_journal(appenders, events, head)

    # A clean restart changes nothing.
    broker.restart()
    with broker.client() as client:
        again, head_again = client.read_all()
    assert head_again == head
    assert again == events


def check_journal(appenders, events, head):
    # Seqs 1..head, no gap, no repeat.
    assert [e["seq"] for e in events] == list(range(1, head + 1))
    # Every acknowledged event is there, at the seq it was acknowledged with, unchanged.
    for a in appenders:
        for b, seqs in a.acked.items():
            sent = a.batches[b]
            assert seqs == list(range(seqs[0], seqs[0] + len(sent))), \
                f"append {b} of {a.name}: seqs not contiguous: {seqs}"
            assert seqs[-1] <= head, f"append {b} of {a.name}: acknowledged {seqs}, head {head}"
            for seq, original in zip(seqs, sent):
                stored = events[seq - 1]
                for key in ("type", "id", "source", "data"):
                    assert stored[key] == original[key], f"seq {seq}: {key} changed"
                assert stored["specversion"] == "1.0"
                assert RFC3339_UTC.match(stored["time"]), stored["time"]
    # Every event exactly once: idem keys kept the retries out.
    keys = [e["data"]["order_no"] for e in events]
    assert len(set(keys)) == len(keys), "an event was appended twice"
    assert head == EVENTS_TOTAL, f"head {head}, expected {EVENTS_TOTAL}"


def test_sigterm_exits_zero_and_restart_keeps_head(broker):
    with broker.client() as client:
        for i in range(3):
            reply = client.append([make_event(9, i), make_event(9, 100 + i)])
            assert reply["status"] == 200, reply
            assert reply["data"]["seqs"] == [2 * i + 1, 2 * i + 2]
            assert reply["seq"] == 2 * i + 2
        assert client.head() == 6
    broker.restart()  # asserts exit code 0
    with broker.client() as client:
        assert client.head() == 6
        reply = client.append([make_event(9, 1000)])
        assert reply["data"]["seqs"] == [7]
        events, head = client.read_all()
    assert head == 7 and [e["id"] for e in events][-1] == "a9-1000"


def test_idem_key_survives_restart(broker):
    with broker.client() as client:
        first = client.append([make_event(1, 1), make_event(1, 2)], idem="order-42")
        assert first["status"] == 200, first
        assert first["data"]["seqs"] == [1, 2]
        assert not first["data"].get("duplicate")
        again = client.append([make_event(1, 1), make_event(1, 2)], idem="order-42")
        assert again["status"] == 200 and again["data"]["seqs"] == [1, 2], again
        assert again["data"]["duplicate"] is True
    broker.restart()
    with broker.client() as client:
        after = client.append([make_event(1, 1), make_event(1, 2)], idem="order-42")
        assert after["status"] == 200, after
        assert after["data"]["seqs"] == [1, 2] and after["data"]["duplicate"] is True, after
        assert client.head() == 2
        other = client.append([make_event(1, 3)], idem="order-43")
        assert other["data"]["seqs"] == [3] and not other["data"].get("duplicate")


def test_idem_key_survives_kill9(broker):
    with broker.client() as client:
        first = client.append([make_event(2, 1)], idem="k9")
        assert first["status"] == 200 and first["data"]["seqs"] == [1], first
    broker.kill9()
    broker.start()
    with broker.client() as client:
        after = client.append([make_event(2, 1)], idem="k9")
        assert after["data"]["seqs"] == [1] and after["data"]["duplicate"] is True, after
        assert client.head() == 1


def test_same_idem_key_in_flight_twice_appends_once(broker):
    """Two pipelined appends with one idem key (a client retrying fast) append once."""
    with broker.client() as client:
        for _ in range(20):
            client.send_request("journal", "journal.append", {"events": [make_event(3, 0)]},
                                idem="twice")
        replies = [client.recv_reply(10 * SLOW) for _ in range(20)]
        assert all(r["status"] == 200 for r in replies), replies
        assert {tuple(r["data"]["seqs"]) for r in replies} == {(1,)}, replies
        assert client.head() == 1
