"""Issue 16: the writer's clock through kill -9 and through downtime
(docs/reminders.md § The clock, points 3 and 6), on the real clock.

Real processes: the broker and rapport-reminders instances (each its own
data dir, one the reminders.writer lease holder). Reminders are created
over ZeroMQ (reminders.create on reminders.writer, pipelined), the
firings read back from the journal (journal.read).

- kill -9: 2,000 one-offs due over 30 s, two instances; the writer is
  killed right after it has committed a batch of firings, three times (the
  standby takes the lease over, the dead one is restarted on its data
  dir); at the end every reminder has fired and the journal holds exactly
  one reminder.fired per key.
- downtime: every instance stopped while firings come due, then one
  started: each overdue firing fires once, late (reminders/late_after
  PT1S here, so a few seconds of downtime are late).
"""

import collections
import time

from conftest import SLOW, UNDER_ASAN, wait_until
from test_customers import ADMIN
import test_orders_kill
from test_reminders import Reminders
from test_reminders_clock import iso, ms

COUNT = 2_000
SPAN_S = 30.0  # the due times' spread, on the real clock
KILLS = 3
TAKEOVER_S = 15.0 + (5.0 if UNDER_ASAN else 0.0)

instances = test_orders_kill.instances  # the fixture: the processes started, stopped after


def registered(client):
    return test_orders_kill.registered(client, "reminders")


def create_many(client, bodies, window=64):
    """reminders.create for each body, window requests in flight: the ids."""
    ids = [None] * len(bodies)
    pending = {}
    sent = 0
    while sent < len(bodies) or pending:
        while sent < len(bodies) and len(pending) < window:
            rid = client.send_request("reminders.writer", "reminders.create", bodies[sent],
                                      actor=ADMIN)
            pending[rid] = sent
            sent += 1
        reply = client.recv_reply(10.0 * SLOW)
        if reply.get("id") not in pending:
            continue
        n = pending.pop(reply["id"])
        assert reply["status"] == 200, (bodies[n], reply)
        ids[n] = reply["data"]["id"]
    return ids


def firings(client, from_seq=1):
    return [e for e in client.read_all(from_seq)[0] if e["type"] == "reminder.fired"]


def now_ms():
    return int(time.time() * 1000)


def test_kill9_at_firing_time_fires_each_key_once(broker, instances, tmp_path):
    for i in range(2):
        instances.append(Reminders(broker, tmp_path / f"reminders{i}"))

    def live():
        return {p.pid for p in instances if p.alive()}

    def serving(client):
        pids, holder, standbys = registered(client)
        return pids == live() and holder in pids and standbys == len(pids) - 1

    with broker.client() as client:
        wait_until(lambda: serving(client), 15 * SLOW, interval=0.05,
                   what="two reminders instances, one the writer")
        began = time.monotonic()
        base = now_ms() + 2000
        bodies = [{"subject": f"回访 {n}", "kind": "call", "time_zone": "UTC",
                   "due_at": iso(base + n * int(SPAN_S * 1000) // COUNT)} for n in range(COUNT)]
        ids = create_many(client, bodies)
        created_s = time.monotonic() - began
        assert len(set(ids)) == COUNT
        head = client.head()

        kills = []
        for round_ in range(KILLS):
            # The writer commits a batch of firings; right then it dies.
            at = client.head()
            wait_until(lambda: client.head() > at, TAKEOVER_S * SLOW, interval=0.01,
                       what=f"firings before kill {round_ + 1}")
            _, holder, _ = registered(client)
            victim = next(p for p in instances if p.pid == holder and p.alive())
            victim.kill9()
            kills.append((holder, client.head() - head, round(time.monotonic() - began, 1)))
            instances.append(Reminders(broker, victim.data_dir))
            wait_until(lambda: registered(client)[1] in live(), TAKEOVER_S * SLOW,
                       interval=0.05, what=f"a writer after kill {round_ + 1}")
        assert kills[-1][1] < COUNT, f"all had fired before the last kill: {kills}"

        def fired_keys():
            return {e["data"]["key"] for e in firings(client, head + 1)}
        wait_until(lambda: len(fired_keys()) >= COUNT, (SPAN_S + TAKEOVER_S) * SLOW,
                   interval=0.5, what=f"{COUNT} firings")
        wait_until(lambda: serving(client), TAKEOVER_S * SLOW, interval=0.05,
                   what="both instances serving")
        # A last one-off: once it has fired, the writer has ticked with
        # everything before it applied — a late duplicate would be there.
        [last] = create_many(client, [{"subject": "最后", "time_zone": "UTC",
                                       "due_at": iso(now_ms() + 300)}])
        wait_until(lambda: any(e["data"]["id"] == last for e in firings(client, head + 1)),
                   5 * SLOW, interval=0.05, what="the last one-off's firing")
        events = firings(client, head + 1)
        print(f"created {COUNT} in {created_s:.1f} s; kills (pid, fired, s): {kills}; "
              f"{sum(e['data']['late'] for e in events)} late")
        per_key = collections.Counter(e["data"]["key"] for e in events)
        twice = [k for k, n in per_key.items() if n != 1]
        assert not twice, f"{len(twice)} keys fired more than once: {twice[:5]}"
        assert {e["data"]["id"] for e in events} == set(ids) | {last}
        assert len(events) == COUNT + 1
        for e in events:
            d = e["data"]
            assert d["key"] == f"{d['id']}/{ms(d['due_at'])}/0", d
            assert ms(d["fired_at"]) >= ms(d["due_at"]), d
        # Every instance has every reminder fired.
        reply = client.call("reminders", "reminders.get", {"id": ids[0]}, actor=ADMIN,
                            min_seq=client.head())
        assert reply["status"] == 200 and reply["data"]["state"] == "fired", reply


def test_downtime_fires_each_overdue_firing_once_late(broker, instances, tmp_path):
    env = {"RAPPORT_REMINDERS_LATE_AFTER": "PT1S"}
    first = Reminders(broker, tmp_path / "reminders0", env=env)
    instances.append(first)
    with broker.client() as client:
        wait_until(lambda: registered(client)[1] == first.pid, 15 * SLOW, interval=0.05,
                   what="the reminders writer")
        due = (now_ms() // 1000 + 4) * 1000  # due times are whole seconds
        # Three one-offs, each with two firings: 2 s and 1 s before its time.
        ids = create_many(client, [{"subject": f"拜访 {n}", "kind": "visit", "time_zone": "UTC",
                                    "due_at": iso(due + n * 1000),
                                    "remind_before": ["PT2S", "PT1S"]} for n in range(3)])
        head = client.head()
        assert first.stop() == 0
        wait_until(lambda: registered(client)[0] == set(), 15 * SLOW, interval=0.05,
                   what="no reminders instance")
        assert firings(client, head + 1) == []
        # Down until every firing is over a second overdue.
        wait_until(lambda: now_ms() > due + 2000 - 1000 + 1500, 10, interval=0.1,
                   what="the firings overdue")
        again = Reminders(broker, tmp_path / "reminders0", env=env)
        instances.append(again)
        wait_until(lambda: len(firings(client, head + 1)) >= 6, 10 * SLOW, interval=0.05,
                   what="the six overdue firings")
        [last] = create_many(client, [{"subject": "准时", "time_zone": "UTC",
                                       "due_at": iso(now_ms() + 500)}])
        wait_until(lambda: any(e["data"]["id"] == last for e in firings(client, head + 1)),
                   5 * SLOW, interval=0.05, what="the on-time one-off's firing")
        events = [e["data"] for e in firings(client, head + 1)]
    overdue = [d for d in events if d["id"] != last]
    want = {f"{rid}/{due + n * 1000}/{before}"
            for n, rid in enumerate(ids) for before in (2, 1)}
    assert sorted(d["key"] for d in overdue) == sorted(want), overdue
    for d in overdue:
        assert d["offset"] == int(d["key"].rsplit("/", 1)[1]), d
        assert d["late"] is True and ms(d["fired_at"]) - ms(d["due_at"]) > 1000, d
    [on_time] = [d for d in events if d["id"] == last]
    assert on_time["late"] is False, on_time
