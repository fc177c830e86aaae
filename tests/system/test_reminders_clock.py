"""Issue 16: the writer's clock moved by the test clock (docs/reminders.md
§ The test clock): reminders.clock.set {now} jumps the writer's clock
forward, and the reminder.fired events in the journal are checked — each
occurrence at its UTC instant across DST changes (Berlin, New York, spring
and autumn), the last Fridays of a month, a snooze fires once at its time,
a fired one-off moved later fires again, skip_missed fires only the last
missed firing. And the test clock is refused in production.

Real processes: the broker, rapport-users, rapport-reminders (with
RAPPORT_REMINDERS_TEST_CLOCK=1) and rapport-gateway.
"""

import calendar
import time

import pytest

from conftest import SLOW, wait_until
from opportunities_story import call, ok
from test_reminders import REMINDERS, Reminders, RemStack, create, people

CLOCK_ENV = {"RAPPORT_REMINDERS_TEST_CLOCK": "1"}


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = RemStack(broker_factory, tmp_path, env=CLOCK_ENV)
    yield s
    s.stop()


def ms(text):
    """Unix ms of an RFC 3339 UTC time ("2027-03-22T08:00:00.000Z")."""
    whole, _, frac = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1000 + (int(frac[:3].ljust(3, "0")) if frac else 0)


def iso(at_ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms // 1000)) + \
        ".%03dZ" % (at_ms % 1000)


def set_clock(client, now):
    reply = client.call("reminders.writer", "reminders.clock.set", {"now": now})
    assert reply["status"] == 200, reply
    assert ms(reply["data"]["now"]) >= ms(now), reply
    return reply


def firings(client):
    return [e["data"] for e in client.read_all()[0] if e["type"] == "reminder.fired"]


def of(events, rid):
    return [e for e in events if e["id"] == rid]


def fire_next(client, count, occurrence, before_ms=400):
    """Set the clock just before occurrence (nothing new may fire yet),
    then wait for exactly one more firing once the clock runs past it."""
    assert len(firings(client)) == count
    set_clock(client, iso(ms(occurrence) - before_ms))
    wait_until(lambda: len(firings(client)) > count, 5 * SLOW, interval=0.05,
               what=f"the firing at {occurrence}")
    events = firings(client)
    assert len(events) == count + 1, events[count:]
    return events[-1]


def sentinel(client, gw, key, due_at):
    """A one-off due at due_at (already past on the test clock): once it has
    fired, every tick before it has been applied — whatever was due by then
    has fired too."""
    s = create(gw, key, subject="哨兵", due_at=due_at, time_zone="UTC")
    wait_until(lambda: of(firings(client), s["id"]), 5 * SLOW, interval=0.05,
               what="the sentinel's firing")
    return s


def test_series_fire_at_their_utc_instants(stack):
    """Weekly 09:00 Berlin across 28 March 2027 (08:00Z, then 07:00Z),
    weekly 09:00 New York across 14 March and 7 November 2027 (14:00Z →
    13:00Z → 14:00Z), the last Friday of each month at 10:00 Shanghai:
    the clock moved to just before each occurrence fires it, once, at its
    instant, on time."""
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    berlin = create(gw, key, subject="周会", due_at="2027-03-22T09:00:00+01:00",
                    time_zone="Europe/Berlin", rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=3")
    spring = create(gw, key, subject="Weekly", due_at="2027-03-09T09:00:00-05:00",
                    time_zone="America/New_York", rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    autumn = create(gw, key, subject="Weekly", due_at="2027-11-02T09:00:00-04:00",
                    time_zone="America/New_York", rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    monthly = create(gw, key, subject="月度总结", due_at="2027-01-29T10:00:00+08:00",
                     time_zone="Asia/Shanghai", rrule="FREQ=MONTHLY;BYDAY=-1FR;COUNT=4")
    want = [
        (monthly, "2027-01-29T02:00:00.000Z"),
        (monthly, "2027-02-26T02:00:00.000Z"),
        (spring, "2027-03-09T14:00:00.000Z"),  # EST
        (spring, "2027-03-16T13:00:00.000Z"),  # EDT from 14 March
        (berlin, "2027-03-22T08:00:00.000Z"),  # CET
        (monthly, "2027-03-26T02:00:00.000Z"),
        (berlin, "2027-03-29T07:00:00.000Z"),  # CEST from 28 March
        (berlin, "2027-04-05T07:00:00.000Z"),
        (monthly, "2027-04-30T02:00:00.000Z"),
        (autumn, "2027-11-02T13:00:00.000Z"),  # EDT
        (autumn, "2027-11-09T14:00:00.000Z"),  # EST from 7 November
    ]
    with stack.broker.client() as client:
        for n, (r, occurrence) in enumerate(want):
            event = fire_next(client, n, occurrence)
            assert event["id"] == r["id"] and event["occurrence"] == occurrence, (event, r)
            assert event["due_at"] == occurrence and event["late"] is False, event
            assert event["key"] == f"{r['id']}/{ms(occurrence)}/0" and event["offset"] == 0, event
            assert ms(event["fired_at"]) >= ms(occurrence), event
        # The series have ended: a later sentinel fires alone.
        set_clock(client, "2027-12-01T00:00:01Z")
        sentinel(client, gw, key, "2027-12-01T00:00:00Z")
        events = firings(client)
        assert len({e["key"] for e in events}) == len(events) == len(want) + 1
    got = ok(call(gw, key, "GET", f"{REMINDERS}/{berlin['id']}"))
    assert got["state"] == "fired" and got["next_fire_at"] is None, got


def test_snooze_fires_once_and_a_moved_one_fires_again(stack):
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    with stack.broker.client() as client:
        # Snoozed before its time: nothing at 09:00, one firing at 11:00.
        r = create(gw, key, subject="打电话", kind="call", due_at="2027-02-01T09:00:00Z",
                   time_zone="UTC")
        ok(call(gw, key, "POST", f"{REMINDERS}/{r['id']}/snooze",
                {"until": "2027-02-01T11:00:00Z"}))
        set_clock(client, "2027-02-01T09:00:10Z")
        sentinel(client, gw, key, "2027-02-01T09:00:05Z")
        assert of(firings(client), r["id"]) == []
        event = fire_next(client, 1, "2027-02-01T11:00:00Z")
        assert event["id"] == r["id"] and event["key"].endswith("/snooze-1"), event
        assert event["due_at"] == "2027-02-01T11:00:00.000Z" and event["late"] is False
        assert event["occurrence"] == "2027-02-01T09:00:00.000Z", event
        set_clock(client, "2027-02-01T12:00:00Z")
        sentinel(client, gw, key, "2027-02-01T11:59:00Z")
        assert len(of(firings(client), r["id"])) == 1
        got = ok(call(gw, key, "GET", f"{REMINDERS}/{r['id']}"))
        assert got["state"] == "fired" and got["next_fire_at"] is None, got

        # A one-off fired, moved later: armed again, a second firing with
        # its own key; moved back to the fired time: not a third.
        m = create(gw, key, subject="回访", due_at="2027-02-02T09:00:00Z", time_zone="UTC")
        count = len(firings(client))
        first = fire_next(client, count, "2027-02-02T09:00:00Z")
        assert first["id"] == m["id"]
        moved = ok(call(gw, key, "PATCH", f"{REMINDERS}/{m['id']}",
                        {"due_at": "2027-02-02T10:00:00Z"}))
        assert moved["state"] == "pending" and moved["next_fire_at"] == "2027-02-02T10:00:00.000Z"
        second = fire_next(client, count + 1, "2027-02-02T10:00:00Z")
        assert second["id"] == m["id"] and second["key"] != first["key"], (first, second)
        back = ok(call(gw, key, "PATCH", f"{REMINDERS}/{m['id']}",
                       {"due_at": "2027-02-02T09:00:00Z"}))
        assert back["next_fire_at"] is None, back
        set_clock(client, "2027-02-02T11:00:00Z")
        sentinel(client, gw, key, "2027-02-02T10:30:00Z")
        assert [e["key"] for e in of(firings(client), m["id"])] == [first["key"], second["key"]]

        # The clock never goes back.
        reply = client.call("reminders.writer", "reminders.clock.set",
                            {"now": "2027-01-01T00:00:00Z"})
        assert reply["status"] == 409 and reply["error"]["code"] == "clock_backwards", reply
        reply = client.call("reminders.writer", "reminders.clock.set", {"now": "soon"})
        assert reply["status"] == 422, reply


def test_skip_missed_fires_the_last_missed_one(stack):
    """The clock jumps over three days of two daily series: the one with
    skip_missed fires once (the third day, late, two skipped), the other
    three times (each late); the days passed over never fire later."""
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    skip = create(gw, key, subject="日报", due_at="2027-02-01T09:00:00Z", time_zone="UTC",
                  rrule="FREQ=DAILY", skip_missed=True)
    each = create(gw, key, subject="日报", due_at="2027-02-01T09:00:00Z", time_zone="UTC",
                  rrule="FREQ=DAILY")
    assert skip["skip_missed"] is True and each["skip_missed"] is False
    days = ["2027-02-01T09:00:00.000Z", "2027-02-02T09:00:00.000Z", "2027-02-03T09:00:00.000Z"]
    with stack.broker.client() as client:
        set_clock(client, "2027-02-03T10:00:00Z")
        wait_until(lambda: len(of(firings(client), each["id"])) == 3, 5 * SLOW, interval=0.05,
                   what="the three late firings")
        sentinel(client, gw, key, "2027-02-03T09:59:00Z")
        events = firings(client)
        s, e = of(events, skip["id"]), of(events, each["id"])
        assert [x["occurrence"] for x in s] == days[2:], s
        assert s[0]["late"] is True and s[0]["skipped"] == 2, s
        assert [x["occurrence"] for x in e] == days and all(x["late"] for x in e), e
        assert all("skipped" not in x for x in e), e
        # The next day, on time, once each: the skipped days stay skipped.
        set_clock(client, "2027-02-04T08:59:59.600Z")
        wait_until(lambda: len(firings(client)) == len(events) + 2, 5 * SLOW, interval=0.05,
                   what="the fourth day's firings")
        sentinel(client, gw, key, "2027-02-04T09:00:00Z")
        events = firings(client)
        s, e = of(events, skip["id"]), of(events, each["id"])
        assert [x["occurrence"] for x in s] == days[2:] + ["2027-02-04T09:00:00.000Z"], s
        assert len(e) == 4 and e[-1]["late"] is False and s[-1]["late"] is False
    got = ok(call(gw, key, "GET", f"{REMINDERS}/{skip['id']}"))
    assert got["next_fire_at"] == "2027-02-05T09:00:00.000Z", got


def test_test_clock_logged_and_refused_in_production(stack, tmp_path):
    first = stack.procs[1]
    assert first.name == "reminders"
    with open(first.log_path, encoding="utf-8") as f:
        assert "TEST CLOCK ON" in f.read()
    # Production with the test clock on: the process refuses to start.
    refused = Reminders(stack.broker, tmp_path / "reminders-prod",
                        env={**CLOCK_ENV, "RAPPORT_PRODUCTION": "1"})
    code = refused.proc.wait(10 * SLOW)
    assert code != 0
    with open(refused.log_path, encoding="utf-8") as f:
        log = f.read()
    assert "reminders/test_clock is on with production on" in log, log
    # Production without the test clock starts (and stops) as ever.
    plain = Reminders(stack.broker, tmp_path / "reminders-plain", env={"RAPPORT_PRODUCTION": "1"})
    stack.procs.insert(1, plain)
    with stack.broker.client() as client:
        wait_until(lambda: client.status()["services"].get("reminders", {}).get("workers") == 2,
                   15 * SLOW, interval=0.05, what="a second reminders instance")
    assert plain.alive()


def test_snooze_for_counts_from_the_writers_clock(stack):
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    r = create(gw, ann["api_key"], subject="稍后", due_at="2030-06-01T09:00:00Z", time_zone="UTC")
    with stack.broker.client() as client:
        set_clock(client, "2030-01-01T00:00:00Z")
    s = ok(call(gw, ann["api_key"], "POST", f"{REMINDERS}/{r['id']}/snooze", {"for": "PT1H"}))
    until = ms(s["snoozed_until"])
    # An hour after the test clock's now (which ran on a little), not the real one.
    assert ms("2030-01-01T01:00:00Z") <= until < ms("2030-01-01T01:00:00Z") + 30_000 * SLOW, s
