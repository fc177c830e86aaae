"""Issue 14, end to end: the sales pipeline story over HTTP.

Real processes: the broker, rapport-users, rapport-customers,
rapport-opportunities and rapport-gateway; HTTP only, as a client would.
The admin configures a second pipeline with Chinese stage names and its
lost reasons; sales A opens deals on A's customers and moves them through
the stages: a probability set by hand survives a move, `probability: null`
gives the stage's default back, a loss needs a reason, a win sets
closed_at and 100; sales B sees none of A's deals, the team's manager sees
all; each deal's history lists every change; a customer merge moves the
deals to the survivor; assigning a customer `with_opportunities` gives its
open deals (not the closed ones) to the new owner.

Then every report (funnel, forecast, horizon, win-loss, stage-durations,
stale) is checked cell by cell against the lists with the same filters,
for the admin, the manager and each sales person, and `as_of`: the deals
were all made today, so as of yesterday none exists (every count 0), and
as of today the reports are the current ones. The Odoo weighted case: 100
at 99 % and 200 at 0 % weigh 99, exactly.

Staleness: a deal goes stale when its stage was entered `rot_days` (whole
days) ago, which a test cannot make happen today without waiting or faking
the clock. So the story checks that fresh deals are not stale (the stale
report equals the list's stale=true, both empty), and a true stale case is
read as_of a later day (the stale report's `now` is then the end of that
day): the report and the list with the same stale=true&as_of filters must
both name the deals whose stage_entered_at + rot_days is before then.
"""

import datetime
from decimal import Decimal

import pytest

from conftest import SLOW, wait_until
from opportunities_story import (CUSTOMERS, OPPS, PIPELINES, add_months, amounts_of,
                                 call, completed_stays, expected_funnel, history, ids, iso,
                                 list_all, month_end, month_start, norm, ok, problem, report,
                                 stack, today, weighted_of)  # noqa: F401 (stack: a fixture)
from test_gateway import ADMIN_KEY
from test_gateway_users import create_user

ADMIN = ADMIN_KEY

BIG_PIPELINE = {
    "name": "大客户项目",
    "team": "east",
    "stages": [
        {"key": "qualify", "name": "资格审查", "kind": "open", "probability": 15, "rot_days": 0},
        {"key": "demo", "name": "产品演示", "kind": "open", "probability": 35, "rot_days": 14},
        {"key": "tender", "name": "招投标", "kind": "open", "probability": 70, "rot_days": 7},
        {"key": "signed", "name": "签约", "kind": "won", "probability": 100, "rot_days": 0},
        {"key": "dropped", "name": "放弃", "kind": "lost", "probability": 0, "rot_days": 0},
    ],
}
BIG_REASONS = ["价格过高", "选择了竞争对手", "项目取消"]
DEFAULT_STAGES = [("lead", "线索", "open", 10), ("contacted", "初步沟通", "open", 20),
                  ("needs_analysis", "需求分析", "open", 40), ("proposal", "方案提交", "open", 60),
                  ("negotiation", "谈判", "open", 80), ("won", "成交", "won", 100),
                  ("lost", "输单", "lost", 0)]
REPORT_NAMES = ["funnel", "forecast", "horizon", "win-loss", "stage-durations", "stale"]


def team(gw):
    mgr = create_user(gw, name="王经理", email="wang@east.example.cn", role="manager",
                      team="east")
    a = create_user(gw, name="销售甲", email="a@east.example.cn", role="sales", team="east",
                    manager_id=mgr["id"])
    b = create_user(gw, name="销售乙", email="b@east.example.cn", role="sales", team="east",
                    manager_id=mgr["id"])
    return mgr, a, b


def customer(gw, key, name):
    return ok(call(gw, key, "POST", CUSTOMERS, {"name": name},
                   **{"X-Rapport-Allow-Duplicate": "true"}), 201)


def deal(gw, key, **fields):
    status, headers, d = call(gw, key, "POST", OPPS, fields)
    assert status == 201, (status, d)
    assert headers["location"] == f"{OPPS}/{d['id']}", headers
    assert headers["etag"] == f'"{d["version"]}"' and d["version"] == 1, (headers, d)
    assert int(headers["x-rapport-seq"]) > 0
    for k, v in fields.items():
        if k == "amount":
            assert Decimal(str(d[k])) == Decimal(str(v)), (k, d)
        elif k == "currency":
            assert d[k] == v.upper(), d
        else:
            assert d[k] == v, (k, d)
    return d


def move(gw, key, d, stage, **extra):
    body = ok(call(gw, key, "POST", f"{OPPS}/{d['id']}/stage", {"stage": stage, **extra}))
    assert body["id"] == d["id"] and body["stage"] == stage, body
    assert body["version"] > d["version"], (d, body)
    return body


def patch(gw, key, d, changes):
    return ok(call(gw, key, "PATCH", f"{OPPS}/{d['id']}", changes,
                   **{"If-Match": f'"{d["version"]}"'}))


def get(gw, key, d):
    return ok(call(gw, key, "GET", f"{OPPS}/{d['id']}"))


def walk_story(stack):
    """The story up to the reports; returns what the report checks need."""
    gw = stack.gateways[0]
    mgr, a_user, b_user = team(gw)
    a, b, m = a_user["api_key"], b_user["api_key"], mgr["api_key"]
    day = today()

    # -- pipelines -------------------------------------------------------------
    # The default pipeline is there from the first start, everyone reads it.
    default = ok(call(gw, a, "GET", f"{PIPELINES}/default"))
    assert [(s["key"], s["name"], s["kind"], s["probability"]) for s in default["stages"]] \
        == DEFAULT_STAGES, default
    assert all(s["rot_days"] == 30 for s in default["stages"]), default
    assert {"价格", "竞争对手", "预算不足", "时机不成熟", "无回应"} <= set(default["lost_reasons"])

    # The admin configures a second one with Chinese stage names; sales may not.
    problem(call(gw, a, "POST", PIPELINES, BIG_PIPELINE), 403, "forbidden")
    status, headers, big = call(gw, ADMIN, "POST", PIPELINES, BIG_PIPELINE)
    assert status == 201, big
    assert headers["location"] == f"{PIPELINES}/{big['id']}"
    assert big["name"] == "大客户项目" and big["team"] == "east" and big["version"] == 1
    assert big["stages"] == BIG_PIPELINE["stages"], big
    bad = {**BIG_PIPELINE, "stages": [{"key": "x", "name": "只有", "kind": "open",
                                       "probability": 10, "rot_days": 0}]}
    problem(call(gw, ADMIN, "POST", PIPELINES, bad), 422, "invalid")  # no won, no lost stage
    problem(call(gw, a, "PUT", f"{PIPELINES}/{big['id']}/lost-reasons",
                 {"lost_reasons": BIG_REASONS}), 403, "forbidden")
    ok(call(gw, ADMIN, "PUT", f"{PIPELINES}/{big['id']}/lost-reasons",
            {"lost_reasons": BIG_REASONS}))
    got = ok(call(gw, a, "GET", f"{PIPELINES}/{big['id']}/lost-reasons"))
    assert (got if isinstance(got, list) else got["lost_reasons"]) == BIG_REASONS, got
    big = ok(call(gw, a, "GET", f"{PIPELINES}/{big['id']}"))  # the names round-trip
    assert [s["name"] for s in big["stages"]] == ["资格审查", "产品演示", "招投标", "签约", "放弃"]
    assert big["lost_reasons"] == BIG_REASONS, big
    listed = ok(call(gw, a, "GET", PIPELINES))
    listed = listed if isinstance(listed, list) else listed["items"]
    assert {"default", big["id"]} <= {p["id"] for p in listed}, listed

    # -- sales A's customers and deals -----------------------------------------
    c1 = customer(gw, a, "上海星辰贸易有限公司")
    c2 = customer(gw, a, "杭州云栖科技有限公司")
    owner_a = c1["owner"]
    assert owner_a and c2["owner"] == owner_a

    # Not a customer this service holds (or B's, out of A's reach): 422.
    problem(call(gw, a, "POST", OPPS, {"customer_id": "cus_nope", "title": "无此客户"}), 422,
            "unknown_customer")
    problem(call(gw, a, "POST", OPPS, {"customer_id": c1["id"], "title": "x",
                                       "pipeline_id": "nope"}), 422, "unknown_pipeline")
    problem(call(gw, a, "POST", OPPS, {"customer_id": c1["id"], "title": "x",
                                       "stage": "nope"}), 422, "unknown_stage")
    bad = call(gw, a, "POST", OPPS, {"customer_id": c1["id"], "title": "x", "amount": 1.234,
                                     "probability": 101, "currency": "XX"})
    fields = {e["field"] for e in problem(bad, 422, "invalid")["errors"]}
    assert {"amount", "probability", "currency"} <= fields, bad

    # d1: follows the stage's default until a probability is typed by hand.
    d1 = deal(gw, a, customer_id=c1["id"], title="华东区ERP升级", amount=120000.5,
              expected_close=iso(day + datetime.timedelta(days=40)), source="展会",
              competitors=["用友", "金蝶"])
    assert d1["pipeline_id"] == "default" and d1["stage"] == "lead" and d1["status"] == "open"
    assert d1["probability"] == 10 and d1["probability_manual"] is False, d1
    assert d1["currency"] == "CNY" and d1["owner"] == owner_a and d1["team"] == "east", d1
    assert d1["closed_at"] is None and d1["stage_entered_at"], d1
    d1 = move(gw, a, d1, "contacted")
    assert d1["probability"] == 20
    d1 = patch(gw, a, d1, {"probability": 55})
    assert d1["probability"] == 55 and d1["probability_manual"] is True, d1
    d1 = move(gw, a, d1, "proposal", note="已提交方案")
    assert d1["probability"] == 55 and d1["probability_manual"] is True, d1  # survives the move
    d1 = patch(gw, a, d1, {"probability": None})
    assert d1["probability"] == 60 and d1["probability_manual"] is False, d1  # the default again
    d1 = move(gw, a, d1, "negotiation")
    assert d1["probability"] == 80 and d1["closed_at"] is None
    d1 = move(gw, a, d1, "won")
    assert d1["status"] == "won" and d1["probability"] == 100 and d1["closed_at"], d1
    assert d1["closed_at"][:10] == iso(day)
    assert get(gw, a, d1) == d1  # what the writer answered is what a reader answers

    # d2: lost needs a reason, one of the pipeline's.
    d2 = deal(gw, a, customer_id=c1["id"], title="苏州工厂MES", amount=80000,
              expected_close=iso(day + datetime.timedelta(days=70)), source="转介绍",
              competitors=["用友"])
    d2 = move(gw, a, d2, "needs_analysis")
    assert d2["probability"] == 40
    problem(call(gw, a, "POST", f"{OPPS}/{d2['id']}/stage", {"stage": "lost"}), 422,
            "lost_reason_required")
    problem(call(gw, a, "POST", f"{OPPS}/{d2['id']}/stage",
                 {"stage": "lost", "lost_reason": "天气不好"}), 422, "unknown_lost_reason")
    problem(call(gw, a, "POST", f"{OPPS}/{d2['id']}/stage", {"stage": "signed"}), 422,
            "unknown_stage")  # the second pipeline's stage
    assert get(gw, a, d2)["stage"] == "needs_analysis"  # refusals changed nothing
    d2 = move(gw, a, d2, "lost", lost_reason="价格")
    assert d2["status"] == "lost" and d2["probability"] == 0 and d2["closed_at"], d2
    assert d2["lost_reason"] == "价格"

    # d3, d4: open, one in US dollars (never added to yuan), one overdue.
    d3 = deal(gw, a, customer_id=c2["id"], title="深圳仓储系统", amount=45000, currency="usd",
              expected_close=iso(day + datetime.timedelta(days=10)), source="官网")
    d3 = move(gw, a, d3, "proposal")
    d4 = deal(gw, a, customer_id=c2["id"], title="旧系统维护续约", amount=30000,
              expected_close=iso(day - datetime.timedelta(days=5)), source="官网")

    # A stale If-Match is 412; an archived deal leaves the lists (and so the
    # reports, which must add up to them), a restored one comes back.
    status, headers, body = call(gw, a, "PATCH", f"{OPPS}/{d4['id']}", {"amount": 1},
                                 **{"If-Match": '"99"'})
    problem((status, headers, body), 412, "version_mismatch")
    gone = deal(gw, a, customer_id=c2["id"], title="临时询价", amount=777.77,
                expected_close=iso(day + datetime.timedelta(days=12)))
    gone = move(gw, a, gone, "proposal")
    archived = ok(call(gw, a, "DELETE", f"{OPPS}/{gone['id']}"))
    assert archived["archived"] is True and archived["version"] == gone["version"] + 1, archived
    assert gone["id"] not in ids(list_all(gw, a))
    assert ids(list_all(gw, a, archived=True)) == [gone["id"]]
    restored = ok(call(gw, a, "POST", f"{OPPS}/{gone['id']}/restore"))
    assert restored["archived"] is False and gone["id"] in ids(list_all(gw, a)), restored
    assert ok(call(gw, a, "DELETE", f"{OPPS}/{gone['id']}"))["archived"] is True

    # The Odoo case: 100 at 99 % and 200 at 0 %, alone in their month.
    odoo_month = add_months(day, 5)
    d5 = deal(gw, a, customer_id=c2["id"], title="试点项目A", amount=100, probability=99,
              expected_close=iso(odoo_month))
    d6 = deal(gw, a, customer_id=c2["id"], title="试点项目B", amount=200, probability=0,
              expected_close=iso(odoo_month))
    assert d5["probability_manual"] is True and d6["probability"] == 0

    # The second pipeline: a hand-set probability at creation survives moves.
    p1 = deal(gw, a, customer_id=c2["id"], title="集团数字化平台", pipeline_id=big["id"],
              amount=500000, probability=42, expected_close=iso(add_months(day, 2)))
    assert p1["stage"] == "qualify" and p1["probability_manual"] is True
    p1 = move(gw, a, p1, "demo")
    p1 = move(gw, a, p1, "tender")
    assert p1["probability"] == 42, p1
    p2 = deal(gw, a, customer_id=c1["id"], title="华东物流中心", pipeline_id=big["id"],
              amount=260000, expected_close=iso(add_months(day, 1)))
    assert p2["probability"] == 15
    p2 = move(gw, a, p2, "tender")
    assert p2["probability"] == 70
    p2 = move(gw, a, p2, "signed")
    assert p2["status"] == "won" and p2["probability"] == 100
    p3 = deal(gw, a, customer_id=c1["id"], title="西区门店改造", pipeline_id=big["id"],
              amount=90000, expected_close=iso(add_months(day, 3)))
    p3 = move(gw, a, p3, "dropped", lost_reason="选择了竞争对手")
    assert p3["status"] == "lost" and p3["lost_reason"] == "选择了竞争对手"

    # Reopening a closed deal is a move too; closed_at is cleared.
    p3 = move(gw, a, p3, "demo")
    assert p3["status"] == "open" and p3["closed_at"] is None and p3["lost_reason"] is None, p3
    p3 = move(gw, a, p3, "dropped", lost_reason="项目取消")

    # -- history: every change, with the values after it -----------------------
    h1 = history(gw, a, d1)
    assert [(e["from"], e["to"], e["probability"]) for e in h1] == [
        (None, "lead", 10), ("lead", "contacted", 20), ("contacted", "contacted", 55),
        ("contacted", "proposal", 55), ("proposal", "proposal", 60),
        ("proposal", "negotiation", 80), ("negotiation", "won", 100)], h1
    for e in h1:
        assert {"seq", "at", "actor", "from", "to", "amount", "currency", "probability",
                "expected_close", "note"} <= set(e), e
        assert e["actor"] == a_user["id"] and Decimal(str(e["amount"])) == Decimal("120000.5")
        assert e["expected_close"] == d1["expected_close"] and e["currency"] == "CNY", e
    assert [e["at"] for e in h1] == sorted(e["at"] for e in h1)
    assert h1[3]["note"] == "已提交方案"
    assert [(e["from"], e["to"]) for e in history(gw, a, p3)] == [
        (None, "qualify"), ("qualify", "dropped"), ("dropped", "demo"), ("demo", "dropped")]

    # -- scope: B sees none of A's, the manager all ------------------------------
    cb = customer(gw, b, "北京远航科技有限公司")
    problem(call(gw, b, "POST", OPPS, {"customer_id": c1["id"], "title": "抢单"}), 422,
            "unknown_customer")  # A's customer is out of B's reach
    db = deal(gw, b, customer_id=cb["id"], title="远航CRM", amount=66000,
              expected_close=iso(day + datetime.timedelta(days=20)))
    mine = [d1, d2, d3, d4, d5, d6, p1, p2, p3]
    for d in mine:
        problem(call(gw, b, "GET", f"{OPPS}/{d['id']}"), 404, "not_found")
        problem(call(gw, b, "POST", f"{OPPS}/{d['id']}/stage", {"stage": "won"}), 404,
                "not_found")
        problem(call(gw, b, "GET", f"{OPPS}/{d['id']}/history"), 404, "not_found")
    problem(call(gw, a, "GET", f"{OPPS}/{db['id']}"), 404, "not_found")
    assert ids(list_all(gw, b)) == [db["id"]]
    assert list_all(gw, b, f"{CUSTOMERS}/{c1['id']}/opportunities") == []
    assert ids(list_all(gw, a)) == ids(mine)
    wait_until(lambda: ids(list_all(gw, m)) == ids(mine + [db]), 5 * SLOW,
               what="the manager sees every deal of the team")
    assert get(gw, m, d1)["stage"] == "won"
    assert ids(list_all(gw, a, f"{CUSTOMERS}/{c1['id']}/opportunities")) == ids([d1, d2, p2, p3])

    # -- a merge moves the deals to the survivor -------------------------------
    c3 = customer(gw, a, "成都天府软件园")
    c3b = customer(gw, a, "成都天府软件园有限公司")
    d7 = deal(gw, a, customer_id=c3b["id"], title="园区安防", amount=12000,
              expected_close=iso(day + datetime.timedelta(days=25)))
    d8 = deal(gw, a, customer_id=c3b["id"], title="园区网络", amount=8000.25,
              expected_close=iso(day + datetime.timedelta(days=95)))
    ok(call(gw, a, "POST", f"{CUSTOMERS}/{c3['id']}/merge", {"from": [c3b["id"]]}))
    wait_until(lambda: ids(list_all(gw, a, customer_id=c3["id"])) == ids([d7, d8]), 5 * SLOW,
               what="the merged customer's deals on the survivor")
    assert list_all(gw, a, customer_id=c3b["id"]) == []
    for d in (d7, d8):
        got = get(gw, a, d)
        assert got["customer_id"] == c3["id"] and got["version"] == d["version"] + 1, got
    d7, d8 = get(gw, a, d7), get(gw, a, d8)
    # The source is archived: no new deal on it.
    problem(call(gw, a, "POST", OPPS, {"customer_id": c3b["id"], "title": "x"}), 422,
            "unknown_customer")

    # -- assigning a customer with_opportunities moves its open deals ----------
    c4 = customer(gw, a, "广州南风贸易有限公司")
    c5 = customer(gw, a, "厦门海湾电子有限公司")
    d9 = deal(gw, a, customer_id=c4["id"], title="南风二期", amount=30000,
              expected_close=iso(day + datetime.timedelta(days=50)))
    d10 = move(gw, a, deal(gw, a, customer_id=c4["id"], title="南风一期", amount=20000,
                           expected_close=iso(day + datetime.timedelta(days=1))), "won")
    d11 = move(gw, a, deal(gw, a, customer_id=c4["id"], title="南风备件", amount=5000,
                           expected_close=iso(day + datetime.timedelta(days=3))), "lost",
               lost_reason="预算不足")
    d12 = deal(gw, a, customer_id=c5["id"], title="海湾产线", amount=70000,
               expected_close=iso(day + datetime.timedelta(days=33)))
    ok(call(gw, m, "POST", f"{CUSTOMERS}/{c4['id']}/assign",
            {"owner": b_user["id"], "team": "east", "with_opportunities": True}))
    ok(call(gw, m, "POST", f"{CUSTOMERS}/{c5['id']}/assign",
            {"owner": b_user["id"], "team": "east"}))
    # The manager's next read comes after both assignments (its min_seq):
    # the deals as the opportunities service folded them.
    got = get(gw, m, d9)
    assert got["owner"] == b_user["id"] and got["team"] == "east", got
    assert got["version"] == d9["version"] + 1, got
    assert get(gw, m, d12)["owner"] == owner_a  # without with_opportunities: stays
    wait_until(lambda: ids(list_all(gw, b)) == ids([db, d9]), 5 * SLOW,
               what="the open deal of the assigned customer listed for its new owner")
    d9 = get(gw, b, d9)
    for d in (d10, d11, d12):  # closed deals keep who closed them; c5's deal stays
        problem(call(gw, b, "GET", f"{OPPS}/{d['id']}"), 404, "not_found")
        assert get(gw, a, d)["owner"] == owner_a
    problem(call(gw, a, "GET", f"{OPPS}/{d9['id']}"), 404, "not_found")

    # The list as_of: every deal was made today, none existed yesterday.
    yesterday = iso(day - datetime.timedelta(days=1))
    assert list_all(gw, ADMIN, as_of=yesterday) == []
    now_items = list_all(gw, ADMIN, as_of=iso(day))
    assert ids(now_items) == ids(list_all(gw, ADMIN))
    assert all(i["as_of"]["stage"] == i["stage"] for i in now_items), now_items
    return {"gw": gw, "keys": ((ADMIN, "admin"), (m, "manager"), (a, "sales A"), (b, "sales B")),
            "a": a, "pipelines": {"default": default, big["id"]: big}, "big": big, "day": day,
            "odoo_month": odoo_month}


def test_the_sales_pipeline_story(stack):
    walk_story(stack)


def test_each_report_adds_up_against_the_lists(stack):
    story = walk_story(stack)
    gw, day, pipelines = story["gw"], story["day"], story["pipelines"]
    for key, who in story["keys"]:
        check_reports(gw, key, who, pipelines, day)


def test_the_odoo_weighted_case_is_exact(stack):
    story = walk_story(stack)
    gw, a, odoo_month = story["gw"], story["a"], story["odoo_month"]
    # The Odoo case, exactly: 100 × 99 % + 200 × 0 % = 99, not 98.99999.
    f = report(gw, a, "forecast", pipeline_id="default", by="month",
               **{"from": iso(month_start(odoo_month)), "to": iso(month_end(odoo_month))})
    (group,) = f["groups"]
    assert group["key"] == odoo_month.strftime("%Y-%m") and group["count"] == 2, f
    assert norm(group["amounts"]) == {"CNY": Decimal(300)}, f
    assert norm(group["weighted"]) == {"CNY": Decimal(99)}, f
    assert str(group["weighted"]["CNY"]) in ("99", "99.0", "99.00"), f
    assert norm(f["totals"]["weighted"]) == {"CNY": Decimal(99)}, f



def test_every_report_as_of_yesterday_and_today(stack):
    story = walk_story(stack)
    gw, day, big = story["gw"], story["day"], story["big"]
    # as_of: every deal was made today, so as of yesterday none existed; as
    # of today the reports are the current ones.
    yesterday = iso(day - datetime.timedelta(days=1))
    for name, extra in (("funnel", {}), ("funnel", {"pipeline_id": big["id"]}),
                        ("forecast", {"pipeline_id": "default"}), ("horizon", {}),
                        ("win-loss", {"by": "reason"}), ("win-loss", {"by": "owner"}),
                        ("stage-durations", {}), ("stale", {})):
        past = report(gw, ADMIN, name, as_of=yesterday, **extra)
        assert all_counts(past) == [0] * len(all_counts(past)) and all_counts(past), (name, past)
        cur = report(gw, ADMIN, name, **extra)
        then = report(gw, ADMIN, name, as_of=iso(day), **extra)
        assert strip_clock(then) == strip_clock(cur), (name, then, cur)
        assert then.get("as_of") in (iso(day), None) or name == "stale", then
    # Filters of the list apply to reports too, and bad values are 422.
    for name in REPORT_NAMES:
        status, _, body = call(gw, ADMIN, "GET", f"/api/v1/reports/opportunities/{name}"
                                                 "?as_of=2026-02-30")
        assert status == 422 and body["errors"][0]["field"] == "as_of", (name, body)


def test_stale_deals_as_of_a_later_day(stack):
    """A true stale case without waiting days: as_of a later day (40 days
    on, past the default pipeline's rot_days 30; 8 days on, past the second
    pipeline's tender stage, 7). With as_of, the stale report's `now` is the
    end of that day (docs/opportunities.md § Reports, Stale), and its cells
    are the list's stale=true with the same filters (as_of included).
    Both are checked against the deals' own stage_entered_at and their
    stage's rot_days (0: never stale)."""
    story = walk_story(stack)
    gw, day, pipelines = story["gw"], story["day"], story["pipelines"]
    rot = {(pid, s["key"]): s["rot_days"] for pid, p in pipelines.items() for s in p["stages"]}
    for key, who in story["keys"][::2]:  # the admin and sales A
        deals = list_all(gw, key)
        for days in (8, 40):
            at = day + datetime.timedelta(days=days)
            now = datetime.datetime.combine(at + datetime.timedelta(days=1), datetime.time(),
                                            datetime.timezone.utc)
            expected = [d for d in deals if d["status"] == "open"
                        and rot[(d["pipeline_id"], d["stage"])] > 0
                        and entered(d) + datetime.timedelta(days=rot[(d["pipeline_id"],
                                                                      d["stage"])]) < now]
            assert expected or days == 8, (who, deals)
            st = report(gw, key, "stale", as_of=iso(at))
            assert st["totals"]["count"] == len(expected), (who, days, st, ids(expected))
            assert norm(st["totals"]["amounts"]) == amounts_of(expected), (who, days, st)
            cells = {(s["pipeline_id"], s["key"]): s for s in st["stages"]}
            assert set(cells) == {(d["pipeline_id"], d["stage"]) for d in expected}, (who, st)
            for (pid, stage), cell in cells.items():
                mine = [d for d in expected if (d["pipeline_id"], d["stage"]) == (pid, stage)]
                assert cell["count"] == len(mine) and cell["rot_days"] == rot[(pid, stage)]
                assert norm(cell["amounts"]) == amounts_of(mine), (who, cell)
                listed = list_all(gw, key, stale=True, as_of=iso(at), pipeline_id=pid,
                                  stage=stage)
                assert ids(listed) == ids(mine), (who, days, pid, stage, ids(listed))
            listed = list_all(gw, key, stale=True, as_of=iso(at))
            assert ids(listed) == ids(expected), (who, days, ids(listed), ids(expected))


def entered(d):
    return datetime.datetime.fromisoformat(d["stage_entered_at"].replace("Z", "+00:00"))


def all_counts(obj):
    """Every integer `count`/`won_count` in a report, recursively (as_of the past: zeros)."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("count", "won_count") and isinstance(v, int):
                out.append(v)
            else:
                out += all_counts(v)
    elif isinstance(obj, list):
        for v in obj:
            out += all_counts(v)
    return out


def strip_clock(obj, *more):
    """A report without the fields naming when it was read (and `more`)."""
    if isinstance(obj, dict):
        return {k: strip_clock(v, *more) for k, v in obj.items()
                if k not in ("as_of", "now") + more}
    if isinstance(obj, list):
        return [strip_clock(v, *more) for v in obj]
    return obj


def check_reports(gw, key, who, pipelines, day):
    """Each report's cells against the lists of the same caller and filters."""
    deals = list_all(gw, key)
    histories = {d["id"]: history(gw, key, d["id"]) for d in deals}

    # funnel: current = the list with stage=key; reached from the histories.
    for pid, pipeline in pipelines.items():
        f = report(gw, key, "funnel", pipeline_id=pid)
        assert f["pipeline_id"] == pid, f
        stages = f["stages"]
        assert [(s["key"], s["name"], s["kind"]) for s in stages] == [
            (s["key"], s["name"], s["kind"]) for s in pipeline["stages"]], (who, f)
        in_pipeline = [d for d in deals if d["pipeline_id"] == pid]
        want = expected_funnel(pipeline, in_pipeline, histories)
        for s in stages:
            listed = list_all(gw, key, pipeline_id=pid, stage=s["key"])
            assert s["current"]["count"] == len(listed), (who, s, ids(listed))
            assert norm(s["current"]["amounts"]) == amounts_of(listed), (who, s)
            reached, reached_amounts, current, _ = want[s["key"]]
            assert (s["reached"]["count"], norm(s["reached"]["amounts"])) == (
                reached, reached_amounts), (who, pid, s, want)
            assert current == len(listed)
        flow = [s for s in stages if s["kind"] != "lost"]
        for this, nxt in zip(flow, flow[1:] + [None]):
            n = this["reached"]["count"]
            if nxt is None or n == 0:
                assert this["conversion"] is None, (who, this)
            else:
                expect = round(nxt["reached"]["count"] / n, 4)
                assert abs(float(this["conversion"]) - expect) < 1e-9, (who, this, nxt)
        # created_at within [from, to]: today's deals, none tomorrow.
        same = report(gw, key, "funnel", pipeline_id=pid, **{"from": iso(day), "to": iso(day)})
        assert strip_clock(same, "from", "to") == strip_clock(f, "from", "to"), (who, same, f)
        later = iso(day + datetime.timedelta(days=1))
        none = report(gw, key, "funnel", pipeline_id=pid, **{"from": later, "to": later})
        assert set(all_counts(none)) == {0}, (who, none)

    # forecast by month: open deals by expected_close month; won by closed month.
    start, end = month_start(add_months(day, -1)), month_end(add_months(day, 6))
    for pid in pipelines:
        f = report(gw, key, "forecast", pipeline_id=pid, by="month",
                   **{"from": iso(start), "to": iso(end)})
        assert f["by"] == "month" and f["from"] == iso(start) and f["to"] == iso(end), f
        groups = {g["key"]: g for g in f["groups"]}
        month = start
        total_open, total_won = [], []
        while month <= end:
            after, before = iso(month), iso(add_months(month, 1))
            opened = list_all(gw, key, pipeline_id=pid, status="open",
                              expected_close_after=after, expected_close_before=before)
            won = list_all(gw, key, pipeline_id=pid, status="won", closed_after=after,
                           closed_before=before)
            total_open += opened
            total_won += won
            g = groups.get(month.strftime("%Y-%m"))
            if not opened and not won:
                assert g is None or (g["count"] == 0 and g["won_count"] == 0), (who, g)
            else:
                assert g is not None, (who, month, f)
                assert g["count"] == len(opened) and g["won_count"] == len(won), (who, g)
                assert norm(g["amounts"]) == amounts_of(opened), (who, g, opened)
                assert norm(g["weighted"]) == weighted_of(opened), (who, g)
                assert norm(g["won"]) == amounts_of(won), (who, g)
            month = add_months(month, 1)
        t = f["totals"]
        assert (t["count"], t["won_count"]) == (len(total_open), len(total_won)), (who, t)
        assert norm(t["amounts"]) == amounts_of(total_open) and \
            norm(t["weighted"]) == weighted_of(total_open), (who, t)
        assert norm(t["won"]) == amounts_of(total_won), (who, t)

    # forecast by owner: one group per owner of open deals.
    f = report(gw, key, "forecast", pipeline_id="default", by="owner",
               **{"from": iso(start), "to": iso(end)})
    for g in f["groups"]:
        opened = list_all(gw, key, pipeline_id="default", status="open", owner=g["key"],
                          expected_close_after=iso(start),
                          expected_close_before=iso(end + datetime.timedelta(days=1)))
        assert g["count"] == len(opened) and norm(g["amounts"]) == amounts_of(opened), (who, g)

    # horizon: cumulative buckets from today; overdue before today.
    h = report(gw, key, "horizon")
    assert h["today"] == iso(day), h
    assert [bk["months"] for bk in h["buckets"]] == [1, 3, 6, 12], h
    for bk in h["buckets"]:
        listed = list_all(gw, key, status="open", expected_close_after=iso(day),
                          expected_close_before=iso(add_months(day, bk["months"])))
        assert bk["count"] == len(listed) and norm(bk["amounts"]) == amounts_of(listed), (who, bk)
    overdue = list_all(gw, key, status="open", expected_close_before=iso(day))
    assert h["overdue"]["count"] == len(overdue), (who, h)
    assert norm(h["overdue"]["amounts"]) == amounts_of(overdue), (who, h)
    assert h["buckets"][0]["count"] <= h["buckets"][1]["count"] <= h["buckets"][3]["count"]

    # win-loss: won and lost counts and amounts; by reason, owner, source, competitor.
    won, lost = list_all(gw, key, status="won"), list_all(gw, key, status="lost")
    wl = report(gw, key, "win-loss", by="reason", **{"from": iso(day), "to": iso(day)})
    t = wl["totals"]
    assert (t["won"]["count"], t["lost"]["count"]) == (len(won), len(lost)), (who, wl)
    assert norm(t["won"]["amounts"]) == amounts_of(won), (who, wl)
    assert norm(t["lost"]["amounts"]) == amounts_of(lost), (who, wl)
    if won or lost:
        assert abs(float(t["win_rate"]) - round(len(won) / (len(won) + len(lost)), 4)) < 1e-9
        assert 0 <= float(t["avg_days_to_close"]) < 1, t  # closed the day they were made
    else:
        assert t["win_rate"] is None, t
    groups = {g["key"]: g for g in wl["groups"]}
    for reason in {d["lost_reason"] for d in lost}:
        listed = list_all(gw, key, status="lost", lost_reason=reason)
        assert groups[reason]["lost"]["count"] == len(listed), (who, reason, wl)
        assert groups[reason]["won"]["count"] == 0
        assert norm(groups[reason]["lost"]["amounts"]) == amounts_of(listed)
    if won:
        assert groups[None]["won"]["count"] == len(won), (who, wl)
    for by, field in (("owner", "owner"), ("source", "source")):
        wl = report(gw, key, "win-loss", by=by)
        for g in wl["groups"]:
            w = [d for d in won if d.get(field) == g["key"]]
            lo = [d for d in lost if d.get(field) == g["key"]]
            assert (g["won"]["count"], g["lost"]["count"]) == (len(w), len(lo)), (who, by, g)
            assert norm(g["won"]["amounts"]) == amounts_of(w), (who, by, g)
        assert sum(g["won"]["count"] for g in wl["groups"]) == len(won), (who, by, wl)
    wl = report(gw, key, "win-loss", by="competitor")
    assert wl["totals"]["won"]["count"] == len(won), wl  # each deal once in the totals
    for g in wl["groups"]:
        if g["key"] is not None:
            listed = list_all(gw, key, status="lost", competitor=g["key"])
            assert g["lost"]["count"] == len(listed), (who, g)

    # stage-durations: completed stays from the histories.
    for pid, pipeline in pipelines.items():
        sd = report(gw, key, "stage-durations", pipeline_id=pid)
        assert sd["pipeline_id"] == pid
        stays = completed_stays({i: hs for i, hs in histories.items()
                                 if next(d for d in deals if d["id"] == i)["pipeline_id"] == pid})
        assert [s["key"] for s in sd["stages"]] == [s["key"] for s in pipeline["stages"]], sd
        for s in sd["stages"]:
            assert s["count"] == stays.get(s["key"], 0), (who, pid, s, stays)
            if s["count"] == 0:
                assert s["median_seconds"] is None and s["p90_seconds"] is None, s
            else:
                assert isinstance(s["median_seconds"], int) and 0 <= s["median_seconds"] \
                    <= s["p90_seconds"] < 600, s
                assert abs(float(s["median_days"]) - round(s["median_seconds"] / 86400, 2)) \
                    < 1e-9, s

    # stale: the list's stale=true, stage by stage (fresh deals: none stale).
    st = report(gw, key, "stale")
    stale = list_all(gw, key, stale=True)
    assert st["totals"]["count"] == len(stale) == 0, (who, st)
    assert norm(st["totals"]["amounts"]) == amounts_of(stale)
    rot = {(pid, s["key"]): s for pid, p in pipelines.items() for s in p["stages"]}
    for s in st["stages"]:
        assert s["rot_days"] == rot[(s["pipeline_id"], s["key"])]["rot_days"], s
        assert s["name"] == rot[(s["pipeline_id"], s["key"])]["name"], s
        listed = list_all(gw, key, stale=True, pipeline_id=s["pipeline_id"], stage=s["key"])
        assert s["count"] == len(listed), (who, s)
