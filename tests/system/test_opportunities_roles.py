"""Issue 14: who may do what with deals, and the CSV import of deals.

Real processes (the broker, users, customers, opportunities and the
gateway), HTTP only. The roles beside sales and managers (which the story,
test_opportunities.py, walks): readonly reads its team's deals and writes
none; an integrator key lists none and reads none; a sales person cannot
give a deal to someone else; a customer outside the caller's reach is as
unknown as one that does not exist. Then the import: rows become deals
with the create's checks, a bad row is reported by its line and nothing of
it is written, a row apply refuses (an unknown stage, a loss without a
reason) is reported with the outcome's code, upsert is refused, and the
export re-imports.
"""

import csv
import io

import pytest

from opportunities_story import CUSTOMERS, OPPS, call, ok, problem, stack  # noqa: F401
from test_gateway import ADMIN_KEY
from test_gateway_users import bearer, create_user


def users(gw):
    mgr = create_user(gw, name="东区经理", email="m@east.example.cn", role="manager", team="east")
    ann = create_user(gw, name="安娜", email="ann@east.example.cn", role="sales", team="east",
                      manager_id=mgr["id"])
    rex = create_user(gw, name="只读", email="rex@east.example.cn", role="readonly", team="east")
    erp = create_user(gw, name="金蝶K3", email="k3@example.cn", role="integrator")
    west = create_user(gw, name="西区销售", email="w@west.example.cn", role="sales", team="west")
    return {k: u["api_key"] for k, u in
            {"mgr": mgr, "ann": ann, "rex": rex, "erp": erp, "west": west}.items()}


def test_roles_on_deals(stack):
    gw = stack.gateways[0]
    k = users(gw)
    cust = ok(call(gw, k["ann"], "POST", CUSTOMERS, {"name": "宁波港务物流"}), 201)
    deal = ok(call(gw, k["ann"], "POST", OPPS, {"customer_id": cust["id"], "title": "港口调度"}),
              201)
    assert deal["owner"] != "" and deal["team"] == "east" and deal["stage"] == "lead"

    # readonly: reads the team's deals, writes none.
    assert ok(call(gw, k["rex"], "GET", f"{OPPS}/{deal['id']}"))["id"] == deal["id"]
    listed = ok(call(gw, k["rex"], "GET", OPPS))["items"]
    assert [d["id"] for d in listed] == [deal["id"]]
    problem(call(gw, k["rex"], "POST", OPPS, {"customer_id": cust["id"], "title": "x"}), 403,
            "forbidden")
    problem(call(gw, k["rex"], "POST", f"{OPPS}/{deal['id']}/stage", {"stage": "contacted"}),
            403, "forbidden")

    # An integrator key: no list, no record, no write.
    problem(call(gw, k["erp"], "GET", OPPS), 403, "forbidden")
    problem(call(gw, k["erp"], "GET", f"{OPPS}/{deal['id']}"), 404, "not_found")
    problem(call(gw, k["erp"], "PATCH", f"{OPPS}/{deal['id']}", {"title": "y"}), 403,
            "forbidden")

    # Another team's sales person: the deal and the customer do not exist.
    problem(call(gw, k["west"], "GET", f"{OPPS}/{deal['id']}"), 404, "not_found")
    problem(call(gw, k["west"], "DELETE", f"{OPPS}/{deal['id']}"), 404, "not_found")
    problem(call(gw, k["west"], "POST", OPPS, {"customer_id": cust["id"], "title": "抢单"}), 422,
            "unknown_customer")
    assert ok(call(gw, k["west"], "GET", OPPS))["items"] == []

    # Sales give deals only to themselves; a manager within the team.
    p = problem(call(gw, k["ann"], "POST", OPPS,
                     {"customer_id": cust["id"], "title": "转给别人", "owner": "someone"}),
                422, "invalid")
    assert p["errors"][0] == {"field": "owner", "code": "out_of_scope",
                              "message": "outside what this role may assign"}, p
    p = problem(call(gw, k["mgr"], "PATCH", f"{OPPS}/{deal['id']}", {"team": "west"}), 422,
                "invalid")
    assert p["errors"][0]["field"] == "team", p

    # Read-only fields and unknown ones are named.
    p = problem(call(gw, k["ann"], "PATCH", f"{OPPS}/{deal['id']}",
                     {"status": "won", "colour": "red", "amount": 1.005}), 422, "invalid")
    assert {(e["field"], e["code"]) for e in p["errors"]} == {
        ("status", "read_only"), ("colour", "unknown"), ("amount", "invalid")}, p

    # An archived customer takes no new deal.
    ok(call(gw, k["ann"], "DELETE", f"{CUSTOMERS}/{cust['id']}"))
    problem(call(gw, k["ann"], "POST", OPPS, {"customer_id": cust["id"], "title": "晚了"}), 422,
            "unknown_customer")


def import_csv(gw, key, text, query=""):
    status, _, raw = gw.request("POST", f"{OPPS}/import{query}", text.encode(),
                                {**bearer(key), "Content-Type": "text/csv"})
    return status, raw


def test_import_and_export(stack):
    import json
    gw = stack.gateways[0]
    cust = ok(call(gw, ADMIN_KEY, "POST", CUSTOMERS, {"name": "厦门海沧贸易"}), 201)
    c = cust["id"]
    text = ("customer_id,title,amount,currency,stage,probability,lost_reason,competitors\r\n"
            f"{c},导入甲,1200.5,cny,proposal,,,金蝶;用友\r\n"       # line 2: fine, hand-set none
            f"{c},导入乙,800,USD,lead,35,,\r\n"                     # line 3: probability by hand
            f"{c},,1,CNY,lead,,,\r\n"                               # line 4: no title
            f"{c},导入丁,2,CNY,nowhere,,,\r\n"                      # line 5: unknown stage (apply)
            f"{c},导入戊,3,CNY,lost,,,\r\n"                         # line 6: lost without reason
            f"{c},导入己,4,CNY,lost,,价格,\r\n"                     # line 7: lost with a reason
            "nobody,导入庚,5,CNY,lead,,,\r\n")                      # line 8: no such customer
    status, raw = import_csv(gw, ADMIN_KEY, text, "?dry_run=true")
    assert status == 200, raw
    dry = json.loads(raw)
    assert dry["dry_run"] is True and dry["created"] == 5, dry  # apply's refusals need a write
    assert ok(call(gw, ADMIN_KEY, "GET", OPPS))["items"] == []

    status, raw = import_csv(gw, ADMIN_KEY, text)
    assert status == 200, raw
    report = json.loads(raw)
    rejected = {r["line"]: [(e["field"], e["code"]) for e in r["errors"]]
                for r in report["rejected"]}
    assert rejected == {4: [("title", "required")], 5: [("stage", "unknown_stage")],
                        6: [("lost_reason", "lost_reason_required")],
                        8: [("customer_id", "unknown_customer")]}, report
    assert report["created"] == 3 and report["rejected_total"] == 4, report
    deals = {d["title"]: d for d in ok(call(gw, ADMIN_KEY, "GET", OPPS))["items"]}
    assert set(deals) == {"导入甲", "导入乙", "导入己"}, deals
    assert deals["导入甲"]["currency"] == "CNY" and deals["导入甲"]["probability"] == 60
    assert deals["导入甲"]["competitors"] == ["金蝶", "用友"]
    assert deals["导入乙"]["probability"] == 35 and deals["导入乙"]["probability_manual"] is True
    assert deals["导入己"]["status"] == "lost" and deals["导入己"]["lost_reason"] == "价格"
    history = ok(call(gw, ADMIN_KEY, "GET", f"{OPPS}/{deals['导入甲']['id']}/history"))["items"]
    assert [(h["from"], h["to"]) for h in history] == [(None, "proposal")], history

    status, raw = import_csv(gw, ADMIN_KEY, text, "?mode=upsert")
    assert status == 422, raw

    # The export re-imports: its header is the import's columns.
    status, headers, raw = gw.request("GET", f"{OPPS}/export", None, bearer(ADMIN_KEY))
    assert status == 200 and headers["content-type"].startswith("text/csv"), headers
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert sorted(r["title"] for r in rows) == sorted(["导入甲", "导入乙", "导入己"]), rows
    status, raw = import_csv(gw, ADMIN_KEY, raw.decode("utf-8-sig"))
    assert status == 200 and json.loads(raw)["created"] == 3, raw
    assert len(ok(call(gw, ADMIN_KEY, "GET", OPPS))["items"]) == 6
