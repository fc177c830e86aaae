"""Issue 16, follow-up rules (docs/reminders.md § Follow-up rules).

Real processes: the broker, rapport-users, rapport-customers,
rapport-opportunities, rapport-reminders and the gateway; HTTP only, as a
client would, and the journal read back to count events. Durations are
seconds (PT2S), on the real clock; the writer sweeps every second.

- A key customer (grade A) idle past a rule's PT2S gets exactly one
  follow-up for its owner, not two after more sweeps; logging a call
  closes it and its manager is never told; left alone, the manager is
  told once, after the escalation's PT3S, and gets a reminder.
- Rule CRUD: ETag / If-Match, Idempotency-Key, admins any rule, managers
  their team's (forced), others 403; bad fields answered 422 by name.
- A new lead (lead.captured from an integrator) not contacted within PT2S
  gets a follow-up for the owner it went to; contacting it closes it.
- A deal in the same stage longer than PT2S gets one; moving it closes it.
- Deals closing within P3D, or past their close date, get one per rule at
  once when the rules are made; winning the deal closes them.
- The writer killed with a follow-up open: a replica takes the sweep over
  and the manager is told once.
"""

import datetime
import os
import time

import pytest

from conftest import SLOW, wait_until
from opportunities_story import OPPS, OppStack, call, ok, problem, q
from test_gateway import ADMIN_KEY
from test_gateway_users import create_user
from test_reminders import REM_BINARY, REMINDERS, Reminders, wait_reminders

RULES = "/api/v1/rules"
CUSTOMERS = "/api/v1/customers"
EVENTS = "/api/v1/events"


class RulesStack(OppStack):
    def __init__(self, broker_factory, tmp_path):
        if not os.access(REM_BINARY, os.X_OK):
            pytest.fail(f"{REM_BINARY} is not built (run make build)")
        super().__init__(broker_factory, tmp_path)
        self.procs.insert(1, Reminders(self.broker, tmp_path / "reminders0"))
        with self.broker.client() as client:
            wait_until(lambda: client.mmi("reminders") == "200"
                       and client.mmi("reminders.writer") == "200", 20 * SLOW,
                       interval=0.05, what="reminders serving, a writer elected")

    def events(self, type_prefix="rule."):
        with self.broker.client() as client:
            return [e for e in client.read_all()[0] if e["type"].startswith(type_prefix)]


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = RulesStack(broker_factory, tmp_path)
    yield s
    s.stop()


def people(gw):
    mgr = create_user(gw, name="王经理", email="mgr@east.example.cn", role="manager", team="east")
    ann = create_user(gw, name="销售甲", email="ann@east.example.cn", role="sales", team="east",
                      manager_id=mgr["id"])
    west = create_user(gw, name="West", email="boss@west.example.cn", role="manager", team="west")
    return mgr, ann, west


def customer(gw, owner, name, **fields):
    body = {"name": name, "owner": owner["id"], "team": "east", **fields}
    return ok(call(gw, ADMIN_KEY, "POST", CUSTOMERS, body), 201)


def rule(gw, key, **fields):
    status, headers, body = call(gw, key, "POST", RULES, fields)
    assert status == 201, (status, body)
    assert headers["location"] == f"{RULES}/{body['id']}" and headers["etag"] == '"1"'
    return body


def follow_ups(gw, key, **query):
    return ok(call(gw, key, "GET", q(REMINDERS, kind="follow_up", **query)))["items"]


def of(items, customer_id):
    return [r for r in items if r["customer_id"] == customer_id]


def ms(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def errors_of(result):
    status, headers, body = result
    assert status == 422 and headers["content-type"] == "application/problem+json", body
    return {e["field"]: e["code"] for e in body["errors"]}


def test_idle_key_customer_follow_up_close_and_escalation(stack):
    gw = stack.gateways[0]
    mgr, ann, _ = people(gw)
    r = rule(gw, ADMIN_KEY, name="重点客户未跟进", condition={"type": "idle", "duration": "PT2S",
                                                          "grade": "A"},
             action={"subject": "回访重点客户"}, escalation={"after": "PT3S"})
    assert r["active"] is True and r["team"] is None and r["version"] == 1
    # The one to call first, then the one left alone: its follow-up opens
    # no earlier, so its escalation comes after the first one's would.
    called = customer(gw, ann, "甲方科技有限公司", grade="A")
    alone = customer(gw, ann, "乙方贸易有限公司", grade="A")
    other = customer(gw, ann, "丙方工厂", grade="C")

    wait_until(lambda: len(follow_ups(gw, ann["api_key"])) == 2, 10 * SLOW, interval=0.1,
               what="two follow-ups for the owner")
    items = follow_ups(gw, ann["api_key"])
    assert not of(items, other["id"])
    fu_called, = of(items, called["id"])
    fu_alone, = of(items, alone["id"])
    for fu, c in ((fu_called, called), (fu_alone, alone)):
        assert fu["assignee"] == ann["id"] and fu["team"] == "east"
        assert fu["subject"] == "回访重点客户" and fu["kind"] == "follow_up"
        assert fu["state"] in ("pending", "fired")
        # Due when the condition began to hold: its creation + 2 s.
        assert fu["due_at"] >= c["created_at"][:19]
    # The follow-up reaches its owner through the clock.
    wait_until(lambda: ok(call(gw, ann["api_key"], "GET",
                               f"{REMINDERS}/{fu_called['id']}"))["state"] == "fired",
               5 * SLOW, interval=0.1, what="the follow-up fired")

    # A call logged: its follow-up is closed in the same apply.
    logged = ok(call(gw, ann["api_key"], "POST", f"{CUSTOMERS}/{called['id']}/activities",
                     {"kind": "call", "summary": "电话回访，客户满意"}), 201)
    got = ok(call(gw, ann["api_key"], "GET", f"{REMINDERS}/{fu_called['id']}"))
    assert got["state"] == "done" and got["next_fire_at"] is None, got

    # Left alone: the manager is told once, after 3 s.
    def escalations(record):
        return [e for e in stack.events("rule.escalated") if e["data"]["record"] == record]
    wait_until(lambda: escalations(alone["id"]), 10 * SLOW, interval=0.1, what="the escalation")
    esc, = escalations(alone["id"])
    assert esc["data"]["id"] == r["id"] and esc["data"]["follow_up"] == fu_alone["id"]
    assert esc["data"]["manager_id"] == mgr["id"] and esc["data"]["owner"] == ann["id"]
    assert ms(fu_alone["created_at"]) >= ms(fu_called["created_at"])
    assert ms(esc["time"]) >= ms(fu_alone["created_at"]) + 3000
    # Past the escalation the called one would have had: it never came.
    assert escalations(called["id"]) == []
    mine = follow_ups(gw, mgr["api_key"], assignee="me")
    assert [m["customer_id"] for m in mine] == [alone["id"]], mine
    assert ann["name"] in mine[0]["subject"] and "乙方贸易有限公司" in mine[0]["subject"]
    assert mine[0]["team"] == "east"
    # The manager gets it from the clock.
    wait_until(lambda: ok(call(gw, mgr["api_key"], "GET",
                               f"{REMINDERS}/{mine[0]['id']}"))["state"] == "fired",
               5 * SLOW, interval=0.1, what="the manager's reminder fired")

    # Idle again 2 s after the call: a new occurrence of the same follow-up
    # (more sweeps have run by then), due later; still one of each.
    def reopened():
        return ok(call(gw, ann["api_key"], "GET", f"{REMINDERS}/{fu_called['id']}"))
    wait_until(lambda: reopened()["state"] != "done", 10 * SLOW, interval=0.1,
               what="the called customer idle again")
    again = reopened()
    assert ms(again["due_at"]) >= ms(logged["at"]) + 2000 > ms(fu_called["due_at"])
    items = follow_ups(gw, ann["api_key"])
    assert len(of(items, alone["id"])) == 1 and len(of(items, called["id"])) == 1
    assert [e["data"]["record"] for e in stack.events("rule.escalated")
            if e["data"]["record"] != called["id"]] == [alone["id"]]
    matched = [e["data"]["record"] for e in stack.events("rule.matched")]
    assert matched.count(alone["id"]) == 1 and matched.count(called["id"]) == 2
    assert other["id"] not in matched
    fired = [e["data"]["id"] for e in stack.events("reminder.fired")]
    assert fired.count(fu_alone["id"]) == 1
    # The new occurrence escalates in its turn, 3 s after it opened: the
    # first one never did.
    wait_until(lambda: escalations(called["id"]), 10 * SLOW, interval=0.1,
               what="the new occurrence's escalation")
    late, = escalations(called["id"])
    assert ms(late["time"]) >= ms(logged["at"]) + 5000
    assert late["data"]["key"] != esc["data"]["key"]

    # Deactivated: the open follow-ups close, nothing opens again.
    r = ok(call(gw, ADMIN_KEY, "PATCH", f"{RULES}/{r['id']}", {"active": False},
                **{"If-Match": '"1"'}))
    assert r["active"] is False and r["version"] == 2
    states = {x["customer_id"]: x["state"] for x in follow_ups(gw, ann["api_key"])}
    assert states == {called["id"]: "done", alone["id"]: "done"}, states
    assert {x["state"] for x in follow_ups(gw, mgr["api_key"], assignee="me")} == {"done"}


def test_rule_crud_scoping_and_bad_fields(stack):
    gw = stack.gateways[0]
    mgr, ann, west = people(gw)
    good = {"name": "三天未跟进", "condition": {"type": "idle", "duration": "P3D"}}
    a = rule(gw, ADMIN_KEY, **good)
    m = rule(gw, mgr["api_key"], **good, escalation={"after": "P1D"})
    assert m["team"] == "east" and m["created_by"] == mgr["id"]  # forced to the manager's team
    assert errors_of(call(gw, mgr["api_key"], "POST", RULES, {**good, "team": "west"})) == \
        {"team": "out_of_scope"}
    problem(call(gw, ann["api_key"], "POST", RULES, good), 403, "forbidden")
    problem(call(gw, ann["api_key"], "GET", RULES), 403, "forbidden")
    problem(call(gw, ann["api_key"], "GET", f"{RULES}/{m['id']}"), 403, "forbidden")

    def listed(key):
        return [x["id"] for x in ok(call(gw, key, "GET", RULES))["items"]]
    assert listed(ADMIN_KEY) == [a["id"], m["id"]]
    assert listed(mgr["api_key"]) == [m["id"]]
    assert listed(west["api_key"]) == []
    problem(call(gw, mgr["api_key"], "GET", f"{RULES}/{a['id']}"), 404, "not_found")
    problem(call(gw, west["api_key"], "PATCH", f"{RULES}/{m['id']}", {"name": "x"}), 404,
            "not_found")

    # ETag / If-Match; an idempotent retry gets the first answer.
    path = f"{RULES}/{m['id']}"
    status, headers, got = call(gw, mgr["api_key"], "GET", path)
    assert status == 200 and headers["etag"] == '"1"' and got == m
    problem(call(gw, mgr["api_key"], "PATCH", path, {"name": "y"}, **{"If-Match": '"7"'}), 412,
            "version_mismatch")
    status, headers, got = call(gw, mgr["api_key"], "PATCH", path,
                                {"condition": {"type": "new_lead", "within": "PT24H"}},
                                **{"If-Match": '"1"', "Idempotency-Key": "rule-1"})
    assert status == 200 and headers["etag"] == '"2"' and got["condition"]["type"] == "new_lead"
    again = call(gw, mgr["api_key"], "PATCH", path,
                 {"condition": {"type": "new_lead", "within": "PT24H"}},
                 **{"If-Match": '"1"', "Idempotency-Key": "rule-1"})
    assert again[0] == 200 and again[1]["x-rapport-seq"] == headers["x-rapport-seq"]
    assert errors_of(call(gw, mgr["api_key"], "PATCH", path, {"team": "west"})) == \
        {"team": "out_of_scope"}

    # Bad fields, each named.
    assert errors_of(call(gw, ADMIN_KEY, "POST", RULES, {
        "condition": {"type": "idle", "duration": "P1M", "grade": "Z", "colour": 1},
        "action": {"subject": "", "remind_before": ["soon"]},
        "escalation": {"after": "PT0S"}, "active": "yes", "x": 1})) == {
        "name": "required", "x": "unknown", "active": "type",
        "condition.duration": "invalid", "condition.grade": "invalid",
        "condition.colour": "unknown", "action.subject": "required",
        "action.remind_before[0]": "invalid", "escalation.after": "out_of_range"}
    assert errors_of(call(gw, ADMIN_KEY, "POST", RULES,
                          {"name": "n", "condition": {"type": "sometimes"}})) == \
        {"condition.type": "invalid"}
    assert errors_of(call(gw, ADMIN_KEY, "POST", RULES, {"name": "n"})) == \
        {"condition": "required"}
    assert errors_of(call(gw, ADMIN_KEY, "POST", RULES,
                          {"name": "n", "condition": {"type": "closing"}})) == \
        {"condition.within": "required"}
    assert errors_of(call(gw, ADMIN_KEY, "POST", RULES,
                          {"name": "n", "condition": "idle"})) == {"condition": "type"}

    # DELETE with If-Match: gone.
    problem(call(gw, mgr["api_key"], "DELETE", path, **{"If-Match": '"1"'}), 412,
            "version_mismatch")
    status, headers, got = call(gw, mgr["api_key"], "DELETE", path, **{"If-Match": '"2"'})
    assert status == 200 and got == {"id": m["id"], "deleted": True}
    problem(call(gw, mgr["api_key"], "GET", path), 404, "not_found")
    types = [e["type"] for e in stack.events()]
    assert types == ["rule.created", "rule.created", "rule.updated", "rule.deleted"], types


def test_new_lead_not_contacted(stack):
    gw = stack.gateways[0]
    _, ann, _ = people(gw)
    bot = create_user(gw, name="官网", email="web@example.cn", role="integrator")
    rule(gw, ADMIN_KEY, name="新线索24小时内响应", condition={"type": "new_lead", "within": "PT2S"})
    lead = {"type": "lead.captured", "id": "web-1", "source": "website",
            "data": {"name": "访客", "company": "线索公司有限责任公司", "phone": "+8613900000001",
                     "source": "website", "captured_at": "2026-11-23T08:00:00Z"}}
    status, _, body = call(gw, bot["api_key"], "POST", EVENTS, {"events": [lead]})
    assert status == 202 and body["items"][0]["status"] == "accepted", body
    wait_until(lambda: follow_ups(gw, ADMIN_KEY), 10 * SLOW, interval=0.1,
               what="the lead's follow-up")
    fu, = follow_ups(gw, ADMIN_KEY)
    c = ok(call(gw, ADMIN_KEY, "GET", f"{CUSTOMERS}/{fu['customer_id']}"))
    assert c["tier"] == "lead" and fu["assignee"] == c["owner"] == ann["id"]
    assert fu["subject"] == "新线索24小时内响应"
    ok(call(gw, ann["api_key"], "POST", f"{CUSTOMERS}/{c['id']}/activities",
            {"kind": "call", "summary": "首次联系"}), 201)
    assert ok(call(gw, ann["api_key"], "GET", f"{REMINDERS}/{fu['id']}"))["state"] == "done"
    assert ok(call(gw, ADMIN_KEY, "GET", f"{CUSTOMERS}/{c['id']}"))["tier"] == "prospect"


def test_stage_stale_deal(stack):
    gw = stack.gateways[0]
    _, ann, _ = people(gw)
    c = customer(gw, ann, "戊方能源有限公司")
    rule(gw, ADMIN_KEY, name="商机停滞", condition={"type": "stage_stale", "duration": "PT2S"})
    deal = ok(call(gw, ann["api_key"], "POST", OPPS, {"customer_id": c["id"], "title": "储能项目"}),
              201)
    wait_until(lambda: follow_ups(gw, ann["api_key"], opportunity_id=deal["id"]), 10 * SLOW,
               interval=0.1, what="the deal's follow-up")
    fu, = follow_ups(gw, ann["api_key"], opportunity_id=deal["id"])
    assert fu["customer_id"] == c["id"] and fu["assignee"] == ann["id"]
    ok(call(gw, ann["api_key"], "POST", f"{OPPS}/{deal['id']}/stage", {"stage": "proposal"}))
    assert ok(call(gw, ann["api_key"], "GET", f"{REMINDERS}/{fu['id']}"))["state"] == "done"
    # In the new stage the clock starts again: a new occurrence, later.
    wait_until(lambda: ok(call(gw, ann["api_key"], "GET",
                               f"{REMINDERS}/{fu['id']}"))["state"] != "done",
               10 * SLOW, interval=0.1, what="the next occurrence")
    again = ok(call(gw, ann["api_key"], "GET", f"{REMINDERS}/{fu['id']}"))
    assert again["due_at"] > fu["due_at"]


def test_closing_and_overdue_deals(stack):
    gw = stack.gateways[0]
    _, ann, _ = people(gw)
    c = customer(gw, ann, "己方物流有限公司")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    late = ok(call(gw, ann["api_key"], "POST", OPPS,
                   {"customer_id": c["id"], "title": "冷链项目",
                    "expected_close": (today - datetime.timedelta(days=1)).isoformat()}), 201)
    soon = ok(call(gw, ann["api_key"], "POST", OPPS,
                   {"customer_id": c["id"], "title": "仓储项目",
                    "expected_close": (today + datetime.timedelta(days=1)).isoformat()}), 201)
    far = ok(call(gw, ann["api_key"], "POST", OPPS,
                  {"customer_id": c["id"], "title": "远期项目",
                   "expected_close": (today + datetime.timedelta(days=30)).isoformat()}), 201)
    # Made after the deals: evaluated over every deal at once, no sweep needed.
    overdue = rule(gw, ADMIN_KEY, name="商机逾期", condition={"type": "overdue"})
    closing = rule(gw, ADMIN_KEY, name="商机即将成交", condition={"type": "closing", "within": "P3D"})

    def rules_of(deal):
        return sorted(r["id"].split("-")[1] for r in
                      follow_ups(gw, ann["api_key"], opportunity_id=deal["id"]))
    assert rules_of(late) == sorted([overdue["id"], closing["id"]])
    assert rules_of(soon) == [closing["id"]]
    assert rules_of(far) == []
    # Won: its follow-ups close.
    ok(call(gw, ann["api_key"], "POST", f"{OPPS}/{late['id']}/stage", {"stage": "won"}))
    states = {r["subject"]: r["state"] for r in
              follow_ups(gw, ann["api_key"], opportunity_id=late["id"])}
    assert states == {"商机逾期": "done", "商机即将成交": "done"}, states
    still, = follow_ups(gw, ann["api_key"], opportunity_id=soon["id"])
    assert still["state"] in ("pending", "fired"), still


def test_a_successor_escalates_once(stack, tmp_path):
    """The writer killed (-9) once a follow-up is open: a replica that
    replayed the journal holds the same follow-up, takes the lease and the
    sweep over, and the manager is told exactly once."""
    gw = stack.gateways[0]
    mgr, ann, _ = people(gw)
    rule(gw, ADMIN_KEY, name="重点客户未跟进", condition={"type": "idle", "duration": "PT2S"},
         escalation={"after": "PT3S"})
    replica = Reminders(stack.broker, tmp_path / "reminders1")
    stack.procs.insert(1, replica)
    first = next(p for p in stack.procs if p.name == "reminders" and p is not replica)
    with stack.broker.client() as client:
        wait_reminders(client, readers=2, standbys=1)
    c = customer(gw, ann, "庚方电子有限公司")
    wait_until(lambda: follow_ups(gw, ann["api_key"]), 10 * SLOW, interval=0.1,
               what="the follow-up")
    fu, = follow_ups(gw, ann["api_key"])
    assert stack.events("rule.escalated") == []  # due 3 s after it opened
    killed = time.time() * 1000
    first.kill9()
    stack.procs.remove(first)
    with stack.broker.client() as client:
        wait_reminders(client, readers=1, standbys=0)
    wait_until(lambda: stack.events("rule.escalated"), 15 * SLOW, interval=0.1,
               what="the successor's escalation")
    esc, = stack.events("rule.escalated")
    assert ms(esc["time"]) > killed  # the successor's
    assert ok(call(gw, ann["api_key"], "GET", f"{REMINDERS}/{fu['id']}"))["id"] == fu["id"]
    mine = follow_ups(gw, mgr["api_key"], assignee="me")
    assert [m["customer_id"] for m in mine] == [c["id"]]
    wait_until(lambda: ok(call(gw, mgr["api_key"], "GET",
                               f"{REMINDERS}/{mine[0]['id']}"))["state"] == "fired",
               5 * SLOW, interval=0.1, what="the manager's reminder fired")
    assert [e["data"]["record"] for e in stack.events("rule.escalated")] == [c["id"]]
    assert [e["data"]["record"] for e in stack.events("rule.matched")] == [c["id"]]
    assert len(follow_ups(gw, ann["api_key"])) == 1
