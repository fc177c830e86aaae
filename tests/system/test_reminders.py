"""Issue 16, the first slice: reminders over HTTP (docs/reminders.md).

Real processes: the broker, rapport-users, rapport-reminders and
rapport-gateway; HTTP only, as a client would. CRUD with ETag / If-Match
(412), an idempotent retry, scoping (sales their own, the manager the
team's, admin all), the agenda's next firing, occurrences of a weekly
Berlin series across the 29 March 2026 DST change and of a monthly -1FR,
list filters, and bad inputs answered 422 naming each field.
"""

import os
import time
import urllib.parse

import pytest

from conftest import SLOW, build_path, wait_until
from opportunities_story import call, ok, problem
from process import ServiceProcess
from test_gateway import ADMIN_KEY
from test_gateway_users import Stack, create_user

REM_BINARY = build_path("bin", "rapport-reminders")
REMINDERS = "/api/v1/reminders"


class Reminders(ServiceProcess):
    def __init__(self, broker, path, env=None):
        super().__init__("reminders", REM_BINARY, broker, path, env=env)


class RemStack(Stack):
    def __init__(self, broker_factory, tmp_path, env=None, customers=False):
        if not os.access(REM_BINARY, os.X_OK):
            pytest.fail(f"{REM_BINARY} is not built (run make build)")
        super().__init__(broker_factory, tmp_path, customers=customers, gateways=1)
        self.procs.insert(1, Reminders(self.broker, tmp_path / "reminders0", env=env))
        wait_serving(self.broker, "reminders")


def wait_serving(broker, service):
    """Until service answers on the broker and one of its instances holds the writer lease."""
    with broker.client() as client:
        wait_until(lambda: client.mmi(service) == "200"
                   and client.mmi(f"{service}.writer") == "200", 20 * SLOW,
                   interval=0.05, what=f"{service} serving, a writer elected")


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = RemStack(broker_factory, tmp_path)
    yield s
    s.stop()


def q(path, **query):
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def people(gw):
    mgr = create_user(gw, name="王经理", email="mgr@east.example.cn", role="manager", team="east")
    ann = create_user(gw, name="销售甲", email="ann@east.example.cn", role="sales", team="east",
                      manager_id=mgr["id"])
    bob = create_user(gw, name="销售乙", email="bob@east.example.cn", role="sales", team="east",
                      manager_id=mgr["id"])
    west = create_user(gw, name="West", email="w@west.example.cn", role="sales", team="west")
    return mgr, ann, bob, west


def create(gw, key, **fields):
    status, headers, body = call(gw, key, "POST", REMINDERS, fields)
    assert status == 201, (status, body)
    assert headers["location"] == f"{REMINDERS}/{body['id']}"
    assert headers["etag"] == '"1"' and int(headers["x-rapport-seq"]) > 0
    return body


def ids(gw, key, **query):
    body = ok(call(gw, key, "GET", q(REMINDERS, **query)))
    return {r["id"] for r in body["items"]}


def occurrences(gw, key, rid, **query):
    body = ok(call(gw, key, "GET", q(f"{REMINDERS}/{rid}/occurrences", **query)))
    return [o["at"] for o in body["items"]], body["items"]


def test_crud_etag_idempotency(stack):
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    r = create(gw, key, subject="回访客户", due_at="2027-01-05T10:00:00+08:00",
               remind_before=["PT1H", "P1D"], notes="带上报价单\n第二行")
    assert r["kind"] == "task" and r["state"] == "pending" and r["version"] == 1
    assert r["time_zone"] == "Asia/Shanghai"  # the server's default
    assert r["assignee"] == ann["id"] and r["team"] == "east"
    assert r["due_at"] == "2027-01-05T02:00:00.000Z"
    assert r["next_fire_at"] == "2027-01-04T02:00:00.000Z"  # a day before
    assert r["fired"] is None and r["snoozes"] == 0
    path = f"{REMINDERS}/{r['id']}"
    status, headers, got = call(gw, key, "GET", path)
    assert status == 200 and got == r and headers["etag"] == '"1"'

    # PATCH with If-Match; a stale one is 412 and changes nothing.
    status, headers, got = call(gw, key, "PATCH", path, {"due_at": "2027-01-06T10:00:00+08:00"},
                                **{"If-Match": '"1"'})
    assert status == 200 and got["version"] == 2 and headers["etag"] == '"2"', got
    assert got["next_fire_at"] == "2027-01-05T02:00:00.000Z"
    problem(call(gw, key, "PATCH", path, {"subject": "x"}, **{"If-Match": '"1"'}),
            412, "version_mismatch")
    assert ok(call(gw, key, "GET", path))["subject"] == "回访客户"

    # An idempotent retry gets the first answer, and appends nothing.
    body = {"subject": "周报", "due_at": "2027-01-08T17:00:00+08:00", "kind": "task"}
    first = call(gw, key, "POST", REMINDERS, body, **{"Idempotency-Key": "rem-1"})
    again = call(gw, key, "POST", REMINDERS, body, **{"Idempotency-Key": "rem-1"})
    assert first[0] == again[0] == 201
    assert first[2]["id"] == again[2]["id"]
    assert first[1]["x-rapport-seq"] == again[1]["x-rapport-seq"]

    # DELETE with If-Match: gone, and 404 after.
    problem(call(gw, key, "DELETE", path, **{"If-Match": '"1"'}), 412, "version_mismatch")
    status, headers, got = call(gw, key, "DELETE", path, **{"If-Match": '"2"'})
    assert status == 200 and got == {"id": r["id"], "deleted": True}
    assert int(headers["x-rapport-seq"]) > 0
    problem(call(gw, key, "GET", path), 404, "not_found")
    problem(call(gw, key, "PATCH", path, {"subject": "y"}), 404, "not_found")

    with stack.broker.client() as client:
        types = [e["type"] for e in client.read_all()[0] if e["type"].startswith("reminder.")]
    assert types == ["reminder.created", "reminder.updated", "reminder.created",
                     "reminder.deleted"]


def test_scoping(stack):
    gw = stack.gateways[0]
    mgr, ann, bob, west = people(gw)
    a = create(gw, ann["api_key"], subject="A", due_at="2027-02-01T09:00:00Z", kind="call")
    b = create(gw, bob["api_key"], subject="B", due_at="2027-02-02T09:00:00Z", kind="visit",
               customer_id="c-1")
    w = create(gw, west["api_key"], subject="W", due_at="2027-02-03T09:00:00Z")
    # The manager gives one to ann: it is hers, in the team.
    m = create(gw, mgr["api_key"], subject="M", due_at="2027-02-04T09:00:00Z",
               assignee=ann["id"])
    assert m["assignee"] == ann["id"] and m["team"] == "east"

    assert ids(gw, ann["api_key"]) == {a["id"], m["id"]}
    assert ids(gw, ann["api_key"], assignee="me") == {a["id"], m["id"]}
    assert ids(gw, bob["api_key"]) == {b["id"]}
    assert ids(gw, mgr["api_key"]) == {a["id"], b["id"], m["id"]}
    assert ids(gw, mgr["api_key"], assignee="me") == set()
    assert ids(gw, ADMIN_KEY) == {a["id"], b["id"], w["id"], m["id"]}
    problem(call(gw, bob["api_key"], "GET", f"{REMINDERS}/{a['id']}"), 404, "not_found")
    problem(call(gw, west["api_key"], "PATCH", f"{REMINDERS}/{a['id']}", {"subject": "x"}),
            404, "not_found")
    assert ok(call(gw, mgr["api_key"], "GET", f"{REMINDERS}/{a['id']}"))["subject"] == "A"
    assert ok(call(gw, ADMIN_KEY, "GET", f"{REMINDERS}/{w['id']}"))["subject"] == "W"
    # Sales cannot give a reminder to someone else.
    status, _, body = call(gw, ann["api_key"], "POST", REMINDERS,
                           {"subject": "x", "due_at": "2027-02-01T09:00:00Z",
                            "assignee": bob["id"]})
    assert status == 422 and {e["field"]: e["code"] for e in body["errors"]} == \
        {"assignee": "out_of_scope"}, body

    # Filters.
    assert ids(gw, ADMIN_KEY, kind="visit") == {b["id"]}
    assert ids(gw, ADMIN_KEY, customer_id="c-1") == {b["id"]}
    assert ids(gw, ADMIN_KEY, assignee=ann["id"]) == {a["id"], m["id"]}
    assert ids(gw, ADMIN_KEY, state="pending") == {a["id"], b["id"], w["id"], m["id"]}
    assert ids(gw, ADMIN_KEY, state="done") == set()
    assert ids(gw, ADMIN_KEY, due_before="2027-02-02T09:00:00Z") == {a["id"]}
    assert ids(gw, ADMIN_KEY, due_after="2027-02-03T17:00:00+08:00") == {w["id"], m["id"]}
    # Overdue: one-offs not done whose due time has passed.
    old = create(gw, ann["api_key"], subject="已过期", due_at="2026-01-05T09:00:00Z")
    assert ids(gw, ann["api_key"], overdue="true") == {old["id"]}
    assert ids(gw, ann["api_key"], overdue="false") == {a["id"], m["id"]}
    ok(call(gw, ann["api_key"], "POST", f"{REMINDERS}/{old['id']}/done", {}))
    assert ids(gw, ann["api_key"], overdue="true") == set()
    ok(call(gw, ann["api_key"], "DELETE", f"{REMINDERS}/{old['id']}"))
    page = ok(call(gw, ADMIN_KEY, "GET", q(REMINDERS, limit=3)))
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = ok(call(gw, ADMIN_KEY, "GET", q(REMINDERS, limit=3, cursor=page["next_cursor"])))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    status, _, body = call(gw, ADMIN_KEY, "GET", q(REMINDERS, due_before="soon", limit=0))
    assert status == 422 and {e["field"] for e in body["errors"]} == {"due_before", "limit"}


def test_occurrences_dst_and_last_friday(stack):
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    # 09:00 Berlin every Monday: 08:00Z in winter, 07:00Z after 29 March 2026.
    weekly = create(gw, key, subject="周会", due_at="2026-03-16T09:00:00+01:00",
                    time_zone="Europe/Berlin", rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=4")
    at, items = occurrences(gw, key, weekly["id"], **{"from": "2026-03-01T00:00:00Z",
                                                      "to": "2026-06-01T00:00:00Z"})
    assert at == ["2026-03-16T08:00:00.000Z", "2026-03-23T08:00:00.000Z",
                  "2026-03-30T07:00:00.000Z", "2026-04-06T07:00:00.000Z"]
    assert items[0]["fire_at"] == [items[0]["at"]] and items[0]["fired"] is False
    # Made today, the series is in the past: nothing is armed.
    assert weekly["next_fire_at"] is None
    # Bounded: limit, and the window.
    at, _ = occurrences(gw, key, weekly["id"], **{"from": "2026-03-01T00:00:00Z", "limit": 2})
    assert at == ["2026-03-16T08:00:00.000Z", "2026-03-23T08:00:00.000Z"]
    at, _ = occurrences(gw, key, weekly["id"], **{"from": "2026-03-24T00:00:00Z",
                                                  "to": "2026-03-31T00:00:00Z"})
    assert at == ["2026-03-30T07:00:00.000Z"]

    # 09:00 New York every Tuesday: 14:00Z, 13:00Z after 8 March 2026.
    ny = create(gw, key, subject="Weekly", due_at="2026-03-03T09:00:00-05:00",
                time_zone="America/New_York", rrule="FREQ=WEEKLY;BYDAY=TU")
    at, _ = occurrences(gw, key, ny["id"], **{"from": "2026-03-01T00:00:00Z", "limit": 3})
    assert at == ["2026-03-03T14:00:00.000Z", "2026-03-10T13:00:00.000Z",
                  "2026-03-17T13:00:00.000Z"]
    # 02:30 Berlin daily: on 29 March 02:30 does not exist, it moves to 03:30.
    gap = create(gw, key, subject="夜间", due_at="2026-03-28T02:30:00+01:00",
                 time_zone="Europe/Berlin", rrule="FREQ=DAILY;COUNT=3")
    at, _ = occurrences(gw, key, gap["id"], **{"from": "2026-03-01T00:00:00Z"})
    assert at == ["2026-03-28T01:30:00.000Z", "2026-03-29T01:30:00.000Z",
                  "2026-03-30T00:30:00.000Z"]

    # The last Friday of every month, 10:00 Shanghai, a day's notice.
    monthly = create(gw, key, subject="月度总结", due_at="2027-01-29T10:00:00+08:00",
                     time_zone="Asia/Shanghai", rrule="FREQ=MONTHLY;BYDAY=-1FR",
                     remind_before=["P1D"], exdates=["2027-03-26T10:00:00"])
    at, items = occurrences(gw, key, monthly["id"], **{"from": "2027-01-01T00:00:00Z",
                                                       "to": "2027-06-01T00:00:00Z"})
    assert at == ["2027-01-29T02:00:00.000Z", "2027-02-26T02:00:00.000Z",
                  "2027-04-30T02:00:00.000Z", "2027-05-28T02:00:00.000Z"]
    assert items[0]["fire_at"] == ["2027-01-28T02:00:00.000Z"]
    assert monthly["next_fire_at"] == "2027-01-28T02:00:00.000Z"
    problem(call(gw, key, "GET", q(f"{REMINDERS}/{monthly['id']}/occurrences", limit=1001)),
            422, "invalid")
    problem(call(gw, key, "GET", f"{REMINDERS}/nope/occurrences"), 404, "not_found")


def errors_of(result):
    status, headers, body = result
    assert status == 422 and headers["content-type"] == "application/problem+json", body
    return {e["field"]: e["code"] for e in body["errors"]}


def test_bad_inputs_named(stack):
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    assert errors_of(call(gw, key, "POST", REMINDERS,
                          {"due_at": "tomorrow", "kind": "party", "remind_before": ["P1M"],
                           "all_day": "yes", "colour": "blue", "state": "done"})) == {
        "subject": "required", "due_at": "invalid", "kind": "invalid",
        "remind_before": "invalid", "all_day": "type", "colour": "unknown",
        "state": "read_only"}
    good = {"subject": "s", "due_at": "2027-01-01T09:00:00Z"}
    assert errors_of(call(gw, key, "POST", REMINDERS, {**good, "time_zone": "Mars/Olympus"})) \
        == {"time_zone": "invalid"}
    assert errors_of(call(gw, key, "POST", REMINDERS, {**good, "rrule": "FREQ=SOMETIMES"})) \
        == {"rrule": "invalid"}
    assert errors_of(call(gw, key, "POST", REMINDERS, {**good, "rrule": "FREQ=SECONDLY"})) \
        == {"rrule": "invalid"}
    assert errors_of(call(gw, key, "POST", REMINDERS,
                          {**good, "rrule": "FREQ=DAILY", "exdates": ["someday"]})) \
        == {"exdates": "invalid"}
    assert errors_of(call(gw, key, "POST", REMINDERS,
                          {**good, "remind_before": ["PT1M"] * 6})) == {"remind_before": "too_many"}
    assert errors_of(call(gw, key, "POST", REMINDERS, {**good, "remind_before": "PT1H"})) \
        == {"remind_before": "type"}
    assert errors_of(call(gw, key, "POST", REMINDERS, {**good, "customer_id": "a b"})) \
        == {"customer_id": "invalid"}
    r = create(gw, key, **good)
    assert errors_of(call(gw, key, "PATCH", f"{REMINDERS}/{r['id']}",
                          {"rrule": "FREQ=WEEKLY;BYDAY=XX"})) == {"rrule": "invalid"}
    assert errors_of(call(gw, key, "PATCH", f"{REMINDERS}/{r['id']}", {"due_at": None})) \
        == {"due_at": "required"}
    assert ok(call(gw, key, "GET", f"{REMINDERS}/{r['id']}"))["version"] == 1


def test_snooze_and_done(stack):
    gw = stack.gateways[0]
    _, ann, bob, _ = people(gw)
    key = ann["api_key"]
    r = create(gw, key, subject="打电话", due_at="2027-03-01T09:00:00Z", kind="call")
    path = f"{REMINDERS}/{r['id']}"
    assert r["next_fire_at"] == "2027-03-01T09:00:00.000Z"
    s = ok(call(gw, key, "POST", f"{path}/snooze", {"until": "2027-03-01T18:00:00+08:00"},
                **{"If-Match": '"1"'}))
    assert (s["state"], s["snoozes"], s["version"]) == ("snoozed", 1, 2), s
    assert s["snoozed_until"] == s["next_fire_at"] == "2027-03-01T10:00:00.000Z"
    assert s["due_at"] == r["due_at"]  # the due date does not move
    problem(call(gw, key, "POST", f"{path}/snooze", {"for": "PT1H"}, **{"If-Match": '"1"'}),
            412, "version_mismatch")
    s = ok(call(gw, key, "POST", f"{path}/snooze", {"for": "P1W"}))
    assert s["snoozes"] == 2 and s["next_fire_at"] == s["snoozed_until"] > "2026-12-01"
    assert errors_of(call(gw, key, "POST", f"{path}/snooze", {})) == {"until": "required"}
    assert errors_of(call(gw, key, "POST", f"{path}/snooze",
                          {"until": "2027-03-01T10:00:00Z", "for": "PT1H"})) == {"for": "invalid"}
    assert errors_of(call(gw, key, "POST", f"{path}/snooze", {"for": "P1M", "x": 1})) == \
        {"x": "unknown", "for": "invalid"}
    problem(call(gw, bob["api_key"], "POST", f"{path}/snooze", {"for": "PT1H"}), 404, "not_found")

    d = ok(call(gw, key, "POST", f"{path}/done", {}))
    assert d["state"] == "done" and d["next_fire_at"] is None, d
    problem(call(gw, key, "POST", f"{path}/snooze", {"for": "PT1H"}), 409, "not_active")

    # A series: one occurrence done, the next one is armed.
    m = create(gw, key, subject="月报", due_at="2027-01-29T10:00:00+08:00",
               rrule="FREQ=MONTHLY;BYDAY=-1FR")
    assert m["next_fire_at"] == "2027-01-29T02:00:00.000Z"
    mpath = f"{REMINDERS}/{m['id']}"
    d = ok(call(gw, key, "POST", f"{mpath}/done", {"occurrence": "2027-01-29T02:00:00Z"}))
    assert d["state"] == "pending" and d["next_fire_at"] == "2027-02-26T02:00:00.000Z", d
    assert errors_of(call(gw, key, "POST", f"{mpath}/done", {"occurrence": "x", "all": 1})) == \
        {"occurrence": "invalid", "all": "type"}
    d = ok(call(gw, key, "POST", f"{mpath}/done", {"all": True}))
    assert d["state"] == "done" and d["next_fire_at"] is None


def wait_reminders(client, readers, standbys):
    def ready():
        status = client.status()
        lease = status["leases"].get("reminders")
        return (client.mmi("reminders.writer") == "200"
                and status["services"].get("reminders", {}).get("workers") == readers
                and lease and lease["holder"] and lease["standbys"] == standbys)
    wait_until(ready, 15 * SLOW, interval=0.05, what=f"{readers} reminders instances")


def test_replica_replays_the_same(stack, tmp_path):
    """A second instance replays the journal into the same reminders (the
    agenda's next_fire_at among them) and, alone, takes the writes over."""
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    r = create(gw, key, subject="复盘", due_at="2027-01-29T10:00:00+08:00",
               rrule="FREQ=MONTHLY;BYDAY=-1FR", remind_before=["P1D"])
    fired = ok(call(gw, key, "POST", f"{REMINDERS}/{r['id']}/done",
                    {"occurrence": "2027-01-29T02:00:00Z"}))
    first = stack.procs[1]
    assert first.name == "reminders"
    replica = Reminders(stack.broker, tmp_path / "reminders1")
    stack.procs.insert(1, replica)
    with stack.broker.client() as client:
        wait_reminders(client, readers=2, standbys=1)
        assert first.stop() == 0
        stack.procs.remove(first)
        wait_reminders(client, readers=1, standbys=0)
    got = ok(call(gw, key, "GET", f"{REMINDERS}/{r['id']}"))
    assert got == fired and got["next_fire_at"] == "2027-02-25T02:00:00.000Z"
    moved = ok(call(gw, key, "PATCH", f"{REMINDERS}/{r['id']}", {"remind_before": ["PT1H"]}))
    assert moved["version"] == got["version"] + 1
    assert moved["next_fire_at"] == "2027-02-26T01:00:00.000Z"


def test_the_writer_fires_each_occurrence_once(stack):
    """A one-off due in two seconds and a daily series already under way:
    the writer's clock appends one reminder.fired per key, at the due time
    or after it, and never a second one (apply would refuse it)."""
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    key = ann["api_key"]
    now = time.time()
    due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 2))
    one = create(gw, key, subject="回访客户", kind="call", due_at=due, time_zone="UTC")
    with stack.broker.client() as client:
        def fired():
            return [e for e in client.read_all()[0] if e["type"] == "reminder.fired"]
        wait_until(lambda: len(fired()) >= 1, 10 * SLOW, interval=0.1, what="the firing")
        first = fired()
        assert [e["data"]["id"] for e in first] == [one["id"]], first
        event = first[0]
        assert event["data"]["due_at"][:19] == due[:19] and event["data"]["late"] is False
        fired_ms = time.mktime(time.strptime(event["data"]["fired_at"][:19],
                                             "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert fired_ms >= now + 2 - 1
        # A later write is applied after several ticks of the clock: still one.
        create(gw, key, subject="之后", kind="task", due_at="2030-01-01T00:00:00Z",
               time_zone="UTC")
        head = client.head()
        wait_until(lambda: client.call("reminders", "service.status")["data"]["cursor"] >= head,
                   5 * SLOW, interval=0.05, what="the writer past the later write")
        assert len(fired()) == 1
    got = ok(call(gw, key, "GET", f"{REMINDERS}/{one['id']}"))
    assert got["state"] == "fired" and len(got["fired"]) == 1, got


def test_agenda_expands_series(stack):
    gw = stack.gateways[0]
    mgr, ann, bob, _ = people(gw)
    weekly = create(gw, ann["api_key"], subject="周会", kind="visit",
                    due_at="2027-03-01T09:00:00+01:00", time_zone="Europe/Berlin",
                    rrule="FREQ=WEEKLY;BYDAY=MO")
    once = create(gw, ann["api_key"], subject="报价", due_at="2027-03-10T12:00:00Z")
    create(gw, bob["api_key"], subject="bob's", due_at="2027-03-09T12:00:00Z")
    agenda = "/api/v1/reminders/agenda"
    body = ok(call(gw, ann["api_key"], "GET", q(agenda, **{"from": "2027-03-01T00:00:00Z",
                                                           "to": "2027-04-01T00:00:00Z"})))
    got = [(i["at"], i["reminder_id"]) for i in body["items"]]
    # Mondays at 09:00 Berlin: 08:00Z until the 28 March change, then 07:00Z.
    assert got == [("2027-03-01T08:00:00.000Z", weekly["id"]),
                   ("2027-03-08T08:00:00.000Z", weekly["id"]),
                   ("2027-03-10T12:00:00.000Z", once["id"]),
                   ("2027-03-15T08:00:00.000Z", weekly["id"]),
                   ("2027-03-22T08:00:00.000Z", weekly["id"]),
                   ("2027-03-29T07:00:00.000Z", weekly["id"])], got
    assert body["truncated"] is False
    first = body["items"][0]
    assert first["subject"] == "周会" and first["kind"] == "visit" and first["fired"] is False
    assert first["assignee"] == ann["id"] and first["done"] is False
    # The manager sees the team's; filters and the limit apply.
    body = ok(call(gw, mgr["api_key"], "GET", q(agenda, kind="task", **{
        "from": "2027-03-01T00:00:00Z", "to": "2027-04-01T00:00:00Z"})))
    assert [i["subject"] for i in body["items"]] == ["bob's", "报价"]
    body = ok(call(gw, ann["api_key"], "GET", q(agenda, limit=2, **{
        "from": "2027-03-01T00:00:00Z", "to": "2027-04-01T00:00:00Z"})))
    assert len(body["items"]) == 2 and body["truncated"] is True
    # Done through the second Monday: those occurrences say so.
    ok(call(gw, ann["api_key"], "POST", f"{REMINDERS}/{weekly['id']}/done",
            {"occurrence": "2027-03-08T08:00:00Z"}))
    body = ok(call(gw, ann["api_key"], "GET", q(agenda, **{"from": "2027-03-01T00:00:00Z",
                                                           "to": "2027-03-16T00:00:00Z"})))
    assert [i["done"] for i in body["items"]] == [True, True, False, False]
    problem(call(gw, ann["api_key"], "GET", q(agenda, to="2027-04-01T00:00:00Z")),
            422, "invalid")
    problem(call(gw, ann["api_key"], "GET", q(agenda, **{"from": "2027-01-01T00:00:00Z",
                                                         "to": "2027-06-01T00:00:00Z"})),
            422, "invalid")


def test_assignee_zone_and_team(stack):
    gw = stack.gateways[0]
    mgr, ann, _, west = people(gw)
    status, _, prefs = call(gw, ann["api_key"], "PUT", "/api/v1/users/me/preferences",
                            {"time_zone": "Europe/Berlin"})
    assert status == 200, prefs
    # Hers, by her own hand (her last write is read first): her zone.
    r = create(gw, ann["api_key"], subject="周会", due_at="2027-01-05T09:00:00+01:00")
    assert r["time_zone"] == "Europe/Berlin"
    # Given to her by the manager: her zone, not the server's nor his.
    def mine():
        s, _, body = call(gw, mgr["api_key"], "POST", REMINDERS,
                          {"subject": "x", "due_at": "2027-01-05T09:00:00Z",
                           "assignee": ann["id"]})
        assert s == 201, body
        return body
    wait_until(lambda: mine()["time_zone"] == "Europe/Berlin", 10 * SLOW, interval=0.1,
               what="the preference folded by reminders")
    explicit = create(gw, ann["api_key"], subject="y", due_at="2027-01-05T09:00:00Z",
                      time_zone="America/New_York")
    assert explicit["time_zone"] == "America/New_York"
    # An admin moves it to a user of another team: the team follows.
    status, _, moved = call(gw, ADMIN_KEY, "PATCH", f"{REMINDERS}/{r['id']}",
                            {"assignee": west["id"]})
    assert status == 200, moved
    assert moved["assignee"] == west["id"] and moved["team"] == "west"
    assert r["id"] in ids(gw, west["api_key"]) and r["id"] not in ids(gw, ann["api_key"])


def test_visits_report(stack):
    gw = stack.gateways[0]
    mgr, ann, bob, west = people(gw)
    report = "/api/v1/reports/reminders/visits"
    # Ann: a weekly visit from 1 March (4 Mondays in March), done through
    # the second; a one-off visit in the past, not done (overdue); a task
    # (not a visit). Bob: one visit done. West: one, outside the team.
    weekly = create(gw, ann["api_key"], subject="拜访", kind="visit",
                    due_at="2027-03-01T10:00:00+08:00", rrule="FREQ=WEEKLY;BYDAY=MO")
    ok(call(gw, ann["api_key"], "POST", f"{REMINDERS}/{weekly['id']}/done",
            {"occurrence": "2027-03-08T02:00:00Z"}))
    create(gw, ann["api_key"], subject="old visit", kind="visit", due_at="2026-11-02T10:00:00Z")
    create(gw, ann["api_key"], subject="task", due_at="2027-03-03T10:00:00Z")
    b = create(gw, bob["api_key"], subject="bob visit", kind="visit",
               due_at="2027-03-05T10:00:00Z")
    ok(call(gw, bob["api_key"], "POST", f"{REMINDERS}/{b['id']}/done", {}))
    create(gw, west["api_key"], subject="w", kind="visit", due_at="2027-03-05T10:00:00Z")
    span = {"from": "2026-11-01T00:00:00Z", "to": "2027-04-01T00:00:00Z"}
    body = ok(call(gw, mgr["api_key"], "GET", q(report, by="owner", **span)))
    assert body["by"] == "owner"
    rows = {r["key"]: r for r in body["items"]}
    assert set(rows) == {ann["id"], bob["id"]}
    assert {k: v for k, v in rows[ann["id"]].items() if k != "key"} == \
        {"planned": 6, "done": 2, "overdue": 1, "upcoming": 3}
    assert rows[bob["id"]]["planned"] == 1 and rows[bob["id"]]["done"] == 1
    assert body["total"] == {"planned": 7, "done": 3, "overdue": 1, "upcoming": 3}
    # Admin by team; ann alone sees her own.
    body = ok(call(gw, ADMIN_KEY, "GET", q(report, by="team", **span)))
    assert {r["key"]: r["planned"] for r in body["items"]} == {"east": 7, "west": 1}
    body = ok(call(gw, ann["api_key"], "GET", q(report, **span)))
    assert [r["key"] for r in body["items"]] == [ann["id"]]
    problem(call(gw, ann["api_key"], "GET", q(report, by="color", **span)), 422, "invalid")
    problem(call(gw, ann["api_key"], "GET", q(report, **{"from": span["from"]})), 422, "invalid")


def test_cancel(stack):
    gw = stack.gateways[0]
    _, ann, bob, _ = people(gw)
    r = create(gw, ann["api_key"], subject="取消", due_at="2027-05-01T09:00:00Z")
    path = f"{REMINDERS}/{r['id']}"
    problem(call(gw, bob["api_key"], "POST", f"{path}/cancel", {}), 404, "not_found")
    problem(call(gw, ann["api_key"], "POST", f"{path}/cancel", {"reason": 5}), 422, "invalid")
    problem(call(gw, ann["api_key"], "POST", f"{path}/cancel", {}, **{"If-Match": '"7"'}),
            412, "version_mismatch")
    got = ok(call(gw, ann["api_key"], "POST", f"{path}/cancel", {"reason": "客户取消"},
                  **{"If-Match": '"1"'}))
    assert got["state"] == "cancelled" and got["next_fire_at"] is None and got["version"] == 2
    problem(call(gw, ann["api_key"], "POST", f"{path}/cancel", {}), 409, "not_active")
    assert ids(gw, ann["api_key"], state="cancelled") == {r["id"]}
    # Moving a cancelled reminder does not bring it back.
    got = ok(call(gw, ann["api_key"], "PATCH", path, {"due_at": "2027-06-01T09:00:00Z"}))
    assert got["state"] == "cancelled" and got["next_fire_at"] is None
