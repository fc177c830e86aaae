"""Issue 3: what hangs off a customer — contacts, activities, timeline,
assignment and merge (services/customers/relations.c, services/gateway/
relations.c; docs/customers.md § Relations, docs/api.md).

HTTP tests start the real broker, one rapport-customers instance and
rapport-gateway (the admin key); scoping by role is exercised at the MDP
level with actors, as tests/system/test_customers.py does. Teardown asserts
every process exits 0 on SIGTERM (under ASan: no leaks).
"""

import json
import urllib.parse

import pytest

from test_customers import ADMIN, MANAGER, SALES_A, SALES_B, Customers, read, wait_serving, write
from test_gateway import AUTH, JSON, Gateway, assert_problem

BASE = "/api/v1/customers"
HDRS = {**AUTH, **JSON}


@pytest.fixture
def gateway(broker_factory, tmp_path):
    """A gateway in front of one customers instance, both serving."""
    broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})
    customers = Customers(broker, tmp_path / "customers0")
    gw = Gateway(broker, tmp_path / "gateway").wait_ready()
    gw.wait_customers()
    gw.broker = broker
    yield gw
    gw_code = gw.stop()
    c_code = customers.stop()
    assert gw_code == 0, f"gateway exited with {gw_code} on SIGTERM\n" + gw.log_tail()
    assert c_code == 0, f"customers exited with {c_code} on SIGTERM\n" + customers.log_tail()


def post(gw, path, body, **headers):
    return gw.json("POST", path, body, {**HDRS, **headers})


def customer(gw, name, **fields):
    status, _, c = post(gw, BASE, {"name": name, **fields},
                        **{"X-Rapport-Allow-Duplicate": "true"})
    assert status == 201, c
    return c


def walk(gw, path, limit):
    """Every item of a paged list, following next_cursor; also the page count."""
    items, cursor, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (
            f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
        status, _, page = gw.json("GET", url, headers=AUTH)
        assert status == 200 and set(page) == {"items", "next_cursor"}, page
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor, pages = page["next_cursor"], pages + 1
        if not cursor:
            return items, pages
        assert pages < 20


def q_ids(gw, q):
    status, _, page = gw.json("GET", f"{BASE}?q={urllib.parse.quote(q)}&limit=200", headers=AUTH)
    assert status == 200, page
    return [c["id"] for c in page["items"]]


# -- contacts ---------------------------------------------------------------------


def test_contacts_crud_etags_and_name_search(gateway):
    c = customer(gateway, "上海星辰贸易有限公司")
    other = customer(gateway, "杭州云帆科技")
    contacts = f"{BASE}/{c['id']}/contacts"
    body = {"name": "张伟", "title": "采购经理", "phones": ["138-0013-8000", "(021) 5888 1234"],
            "email": "  Zhang.Wei@XingChen.CN ", "birthday": "1985/03/08",
            "notes": "直爽，重视交期。\n喜欢喝茶", "hobbies": "围棋、登山", "id": "ignored"}
    status, headers, raw = gateway.request("POST", contacts,
                                           json.dumps(body, ensure_ascii=False).encode(), HDRS)
    assert status == 201, raw
    assert "张伟".encode() in raw and "直爽，重视交期。".encode() in raw  # UTF-8 as is
    k = json.loads(raw)
    assert k["phones"] == ["+8613800138000", "+862158881234"], k
    assert k["email"] == "zhang.wei@xingchen.cn" and k["birthday"] == "1985-03-08"
    assert k["notes"] == "直爽，重视交期。\n喜欢喝茶" and k["hobbies"] == "围棋、登山"
    assert k["customer_id"] == c["id"] and k["version"] == 1 and k["id"] != "ignored"
    assert k["created_at"] == k["updated_at"] and k["created_at"].endswith("Z")
    assert headers["etag"] == '"1"' and int(headers["x-rapport-seq"]) > 0
    location = f"{contacts}/{urllib.parse.quote(k['id'], safe='')}"
    assert headers["location"] == location
    status, headers, got = gateway.json("GET", location, headers=AUTH)
    assert status == 200 and got == k and headers["etag"] == '"1"'

    # Field errors, all at once; nothing is created.
    status, headers, raw = gateway.request(
        "POST", contacts, json.dumps({"title": "x", "phones": ["12345"], "email": "nope",
                                      "birthday": "2023-02-30", "colour": "red",
                                      "version": 4}).encode(), HDRS)
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("phones", "invalid"), ("email", "invalid"), ("birthday", "invalid"),
        ("colour", "unknown"), ("version", "read_only"), ("name", "required")}, problem
    status, headers, raw = gateway.request("POST", contacts, b'{"name": "x", "phones": "138"}',
                                           HDRS)
    assert assert_problem(status, headers, raw, 422, "invalid")["errors"][0]["code"] == "type"

    # PATCH with If-Match: the right version, then a stale one, then a bad tag.
    status, headers, u = gateway.json("PATCH", location, {"title": "采购总监", "email": None},
                                      {**HDRS, "If-Match": '"1"'})
    assert status == 200 and u["title"] == "采购总监" and u["version"] == 2, u
    assert u["email"] is None and u["phones"] == k["phones"] and headers["etag"] == '"2"'
    status, headers, raw = gateway.request("PATCH", location, b'{"title": "x"}',
                                           {**HDRS, "If-Match": '"1"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, raw = gateway.request("PATCH", location, b'{"title": "x"}',
                                           {**HDRS, "If-Match": "W/\"2\""})
    assert_problem(status, headers, raw, 400, "bad_if_match")
    status, headers, raw = gateway.request("PATCH", location, b'{"name": null}', HDRS)
    assert_problem(status, headers, raw, 422, "invalid")

    # A list in creation order, in pages.
    for name in ("李娜", "王芳"):
        assert post(gateway, contacts, {"name": name})[0] == 201
    items, pages = walk(gateway, contacts, 2)
    assert [i["name"] for i in items] == ["张伟", "李娜", "王芳"] and pages == 2
    assert all(i["customer_id"] == c["id"] for i in items)

    # The customer list's q finds customers by their contacts' names.
    assert q_ids(gateway, "张伟") == [c["id"]]
    assert q_ids(gateway, "王") == [c["id"]]
    assert q_ids(gateway, "云帆") == [other["id"]]
    assert q_ids(gateway, "赵六") == []

    # DELETE with If-Match; then the contact is gone, and so is the match.
    status, headers, raw = gateway.request("DELETE", location, headers={**AUTH, "If-Match": '"1"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, d = gateway.json("DELETE", location, headers={**AUTH, "If-Match": '"2"'})
    assert status == 200 and d == {"id": k["id"], "customer_id": c["id"], "deleted": True}, d
    status, headers, raw = gateway.request("GET", location, headers=AUTH)
    assert_problem(status, headers, raw, 404, "not_found")
    status, headers, raw = gateway.request("DELETE", location, headers=AUTH)
    assert_problem(status, headers, raw, 404, "not_found")
    assert q_ids(gateway, "张伟") == []

    # Unknown customers and malformed paths are 404; methods are checked.
    for path in (f"{BASE}/nope/contacts", f"{BASE}/nope/contacts/x", f"{contacts}/nope",
                 f"{contacts}/%FF"):
        status, headers, raw = gateway.request("GET", path, headers=AUTH)
        assert_problem(status, headers, raw, 404, "not_found")
    status, headers, raw = gateway.request("POST", location, b"{}", HDRS)
    assert_problem(status, headers, raw, 405)
    assert headers["allow"] == "GET, HEAD, PATCH, DELETE"
    status, headers, raw = gateway.request("GET", f"{contacts}?limit=0", headers=AUTH)
    assert_problem(status, headers, raw, 422, "invalid")
    status, headers, raw = gateway.request("GET", f"{contacts}?colour=red", headers=AUTH)
    assert_problem(status, headers, raw, 400, "bad_query")
    status, headers, raw = gateway.request("GET", contacts)
    assert_problem(status, headers, raw, 401, "unauthorized")


# -- activities, last_contacted_at, timeline, atomic If-Match on archive/restore ----


def test_activities_timeline_and_conditional_archive(gateway):
    c = customer(gateway, "北京长城建材")
    path = f"{BASE}/{c['id']}"
    activities = f"{path}/activities"
    assert c["last_contacted_at"] is None
    status, headers, visit = post(gateway, activities, {
        "kind": "visit", "at": "2026-11-20T15:30:00+08:00", "summary": "拜访王总，介绍新品\n反馈积极",
        "outcome": "有意向", "next_step": "发送报价", "next_step_on": "2026/11/30"})
    assert status == 201, visit
    assert visit["at"] == "2026-11-20T07:30:00.000Z" and visit["next_step_on"] == "2026-11-30"
    assert visit["created_by"] == "admin" and visit["customer_id"] == c["id"]
    status, headers, got = gateway.json("GET", path, headers=AUTH)
    assert got["last_contacted_at"] == visit["at"] and got["version"] == 1, got
    assert headers["etag"] == '"1"'  # derived from the log: not a new version

    # Without at: the event's time, later than the visit.
    status, _, call = post(gateway, activities, {"kind": "call", "summary": "电话确认需求"})
    assert status == 201 and call["at"] > visit["at"] and call["at"].endswith("Z"), call
    status, _, note = post(gateway, activities,
                           {"kind": "note", "summary": "旧记录", "at": "2025-01-01T00:00:00Z"})
    assert status == 201
    status, _, got = gateway.json("GET", path, headers=AUTH)
    assert got["last_contacted_at"] == call["at"], got
    # A retried POST with the same Idempotency-Key logs one activity, answered alike.
    key = {"Idempotency-Key": "log-call-1"}
    first = post(gateway, activities, {"kind": "call", "summary": "回访", "at": "2024-01-01T00:00:00Z"},
                 **key)
    again = post(gateway, activities, {"kind": "call", "summary": "回访", "at": "2024-01-01T00:00:00Z"},
                 **key)
    assert first[0] == again[0] == 201 and first[2] == again[2], (first, again)
    assert first[1]["x-rapport-seq"] == again[1]["x-rapport-seq"]

    for bad, field, code in [({"kind": "lunch", "summary": "x"}, "kind", "invalid"),
                             ({"kind": "call"}, "summary", "required"),
                             ({"kind": "call", "summary": "x", "at": "yesterday"}, "at", "invalid"),
                             ({"kind": "call", "summary": "x", "at": "2026-11-20T08:00:00"},
                              "at", "invalid"),
                             ({"kind": "call", "summary": "x", "next_step_on": "2026-13-01"},
                              "next_step_on", "invalid")]:
        status, headers, raw = gateway.request("POST", activities, json.dumps(bad).encode(), HDRS)
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert (field, code) in {(e["field"], e["code"]) for e in problem["errors"]}, problem

    items, pages = walk(gateway, activities, 2)
    assert [i["id"] for i in items] == [call["id"], visit["id"], note["id"], first[2]["id"]]
    assert pages == 2

    # Archive and restore take If-Match, checked with the change itself.
    status, _, u = gateway.json("PATCH", path, {"grade": "B"}, HDRS)
    assert status == 200 and u["version"] == 2
    status, headers, raw = gateway.request("DELETE", path, headers={**AUTH, "If-Match": '"1"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, a = gateway.json("DELETE", path, headers={**AUTH, "If-Match": '"2"'})
    assert status == 200 and a["archived"] is True and a["version"] == 3
    status, headers, raw = gateway.request("POST", f"{path}/restore",
                                           headers={**AUTH, "If-Match": '"2"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, r = gateway.json("POST", f"{path}/restore",
                                      headers={**AUTH, "If-Match": '"3"'})
    assert status == 200 and r["archived"] is False and r["version"] == 4 and r["grade"] == "B"
    status, headers, raw = gateway.request("POST", f"{path}/restore",
                                           headers={**AUTH, "If-Match": "nope"})
    assert_problem(status, headers, raw, 400, "bad_if_match")

    # The timeline: every event, newest first, in pages.
    entries, pages = walk(gateway, f"{path}/timeline", 3)
    assert [e["type"] for e in entries] == [
        "customer.restored", "customer.archived", "customer.updated",
        "customer.activity_logged", "customer.activity_logged", "customer.activity_logged",
        "customer.activity_logged", "customer.created"], entries
    assert pages == 3
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    assert all(e["actor"] == "admin" and e["time"].endswith("Z") for e in entries)
    assert entries[2]["data"] == {"fields": ["grade"]} and entries[2]["summary"] == "updated grade"
    assert entries[-1]["data"] == {"name": "北京长城建材", "code": c["code"]}
    assert entries[-1]["summary"] == "created 北京长城建材"
    logged = entries[-2]  # the visit came first
    assert logged["data"] == {"activity_id": visit["id"], "kind": "visit", "at": visit["at"]}
    assert logged["summary"] == "visit: 拜访王总，介绍新品 反馈积极"
    status, headers, raw = gateway.request("GET", f"{path}/timeline?cursor=zz", headers=AUTH)
    assert status == 200 and json.loads(raw)["items"][0]["type"] == "customer.restored"
    status, headers, raw = gateway.request("GET", f"{BASE}/nope/timeline", headers=AUTH)
    assert_problem(status, headers, raw, 404, "not_found")


# -- assign and merge ----------------------------------------------------------------


def test_assign_with_opportunities_in_the_event(gateway):
    a = customer(gateway, "宁波东海物流")
    # with_opportunities: a boolean, carried in the event for the
    # opportunities service (customers' own record ignores it).
    status, headers, raw = gateway.request("POST", f"{BASE}/{a['id']}/assign",
                                           json.dumps({"owner": "mei",
                                                       "with_opportunities": "yes"}).encode(), HDRS)
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert problem["errors"][0]["field"] == "with_opportunities"
    assert problem["errors"][0]["code"] == "type"
    with gateway.broker.client() as client:
        before = client.head()
    status, _, got = post(gateway, f"{BASE}/{a['id']}/assign",
                          {"owner": "mei", "team": "east", "with_opportunities": True})
    assert status == 200 and got["version"] == 2 and "with_opportunities" not in got, got
    status, _, got = post(gateway, f"{BASE}/{a['id']}/assign",
                          {"owner": "mei", "team": "east", "with_opportunities": False})
    assert status == 200 and got["version"] == 3, got
    with gateway.broker.client() as client:
        events, _ = client.read_all()
    assigned = [e["data"] for e in events if e["seq"] > before]
    assert assigned == [{"id": a["id"], "owner": "mei", "team": "east",
                         "with_opportunities": True},
                        {"id": a["id"], "owner": "mei", "team": "east"}], assigned


def test_assign_and_merge(gateway):
    a = customer(gateway, "深圳南山科技")
    b = customer(gateway, "深圳南山科技有限公司")  # the duplicate
    c = customer(gateway, "南山科技（深圳）")
    for who, name in ((a, "陈静"), (b, "刘洋"), (b, "赵敏")):
        assert post(gateway, f"{BASE}/{who['id']}/contacts", {"name": name})[0] == 201
    assert post(gateway, f"{BASE}/{a['id']}/activities",
                {"kind": "visit", "summary": "早期拜访", "at": "2026-01-05T10:00:00Z"})[0] == 201
    status, _, late = post(gateway, f"{BASE}/{c['id']}/activities",
                           {"kind": "email", "summary": "邮件跟进", "at": "2026-06-01T09:00:00Z"})
    assert status == 201

    # Assign: a new owner (and team) and a new version; If-Match honoured.
    status, headers, raw = gateway.request("POST", f"{BASE}/{a['id']}/assign",
                                           json.dumps({"owner": "mei"}).encode(),
                                           {**HDRS, "If-Match": '"7"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, got = post(gateway, f"{BASE}/{a['id']}/assign",
                                {"owner": "mei", "team": "east"}, **{"If-Match": '"1"'})
    assert status == 200 and got["owner"] == "mei" and got["team"] == "east", got
    assert got["version"] == 2 and headers["etag"] == '"2"'
    for body, field, code in [({}, "owner", "required"), ({"owner": ""}, "owner", "required"),
                              ({"owner": 5}, "owner", "type"),
                              ({"owner": "x", "colour": "red"}, "colour", "unknown")]:
        status, headers, raw = gateway.request("POST", f"{BASE}/{a['id']}/assign",
                                               json.dumps(body).encode(), HDRS)
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert problem["errors"][0]["field"] == field and problem["errors"][0]["code"] == code

    # Refused merges change nothing.
    status, headers, raw = gateway.request("POST", f"{BASE}/{a['id']}/merge",
                                           json.dumps({"from": [a["id"]]}).encode(), HDRS)
    assert_problem(status, headers, raw, 422, "invalid")
    status, headers, raw = gateway.request("POST", f"{BASE}/{a['id']}/merge",
                                           json.dumps({"from": [b["id"], "nope"]}).encode(), HDRS)
    assert_problem(status, headers, raw, 404, "not_found")
    for body in ({"from": []}, {"from": "x"}, {}, {"from": [b["id"], b["id"]]}):
        status, headers, raw = gateway.request("POST", f"{BASE}/{a['id']}/merge",
                                               json.dumps(body).encode(), HDRS)
        assert_problem(status, headers, raw, 422, "invalid")

    # Merge b and c into a: their contacts and activities move, they are archived.
    with gateway.broker.client() as client:
        head = client.head()
    status, headers, m = post(gateway, f"{BASE}/{a['id']}/merge", {"from": [b["id"], c["id"]]})
    assert status == 200 and m["id"] == a["id"] and m["version"] == 3 and not m["archived"], m
    assert m["last_contacted_at"] == late["at"] and headers["etag"] == '"3"'
    items, _ = walk(gateway, f"{BASE}/{a['id']}/contacts", 200)
    assert sorted(i["name"] for i in items) == ["刘洋", "赵敏", "陈静"]
    assert all(i["customer_id"] == a["id"] for i in items)
    items, _ = walk(gateway, f"{BASE}/{a['id']}/activities", 200)
    assert [i["summary"] for i in items] == ["邮件跟进", "早期拜访"]
    for gone in (b, c):
        status, _, g = gateway.json("GET", f"{BASE}/{gone['id']}", headers=AUTH)
        assert g["archived"] is True and g["version"] == 2, g
        assert walk(gateway, f"{BASE}/{gone['id']}/contacts", 10)[0] == []
        status, _, t = gateway.json("GET", f"{BASE}/{gone['id']}/timeline?limit=1", headers=AUTH)
        assert t["items"][0]["type"] == "customer.merged"
        assert t["items"][0]["data"] == {"into": a["id"]}, t
    status, _, t = gateway.json("GET", f"{BASE}/{a['id']}/timeline?limit=2", headers=AUTH)
    assert t["items"][0]["data"] == {"from": [b["id"], c["id"]]}
    assert t["items"][1]["type"] == "customer.assigned"
    assert t["items"][1]["data"] == {"owner": "mei", "team": "east"}
    assert q_ids(gateway, "赵敏") == [a["id"]]

    # One event in the journal for the whole merge.
    with gateway.broker.client() as client:
        events, _ = client.read_all()
    merged = [e for e in events if e["seq"] > head]
    assert [e["type"] for e in merged] == ["customer.merged"], merged
    assert merged[0]["data"] == {"id": a["id"], "from": [b["id"], c["id"]]}

    # Into an archived customer: 422; from an archived one: allowed.
    status, headers, raw = gateway.request("POST", f"{BASE}/{b['id']}/merge",
                                           json.dumps({"from": [a["id"]]}).encode(), HDRS)
    assert_problem(status, headers, raw, 422, "archived")
    d = customer(gateway, "南山另一家")
    status, _, m2 = post(gateway, f"{BASE}/{d['id']}/merge", {"from": [b["id"]]})
    assert status == 200 and m2["version"] == 2


# -- scoping, over MDP -------------------------------------------------------------


def test_relations_scope_by_role(broker, tmp_path):
    instance = Customers(broker, tmp_path / "customers0")
    try:
        with broker.client() as client:
            wait_serving(client, readers=1)
            r = write(client, "customers.create", {"name": "苏州明远"}, SALES_A)
            assert r["status"] == 200, r
            mine = r["data"]["id"]
            r = write(client, "customers.create", {"name": "无锡华光"}, SALES_B)
            theirs = r["data"]["id"]
            r = write(client, "customers.contacts.create", {"id": mine, "name": "周杰"}, SALES_A)
            assert r["status"] == 200 and r["data"]["customer_id"] == mine, r
            contact = r["data"]["id"]
            r = write(client, "customers.activities.create",
                      {"id": mine, "kind": "visit", "summary": "首次拜访"}, SALES_A)
            assert r["status"] == 200 and r["data"]["created_by"] == "alice", r
            seq = r["seq"]

            # Bob (sales, same team) sees none of it: 404 everywhere.
            for op, args in [("customers.contacts.list", {"id": mine}),
                             ("customers.contacts.get", {"id": mine, "contact_id": contact}),
                             ("customers.activities.list", {"id": mine}),
                             ("customers.timeline", {"id": mine})]:
                r = read(client, op, args, SALES_B, min_seq=seq)
                assert r["status"] == 404 and r["error"]["code"] == "not_found", (op, r)
            for op, args in [("customers.contacts.create", {"id": mine, "name": "x"}),
                             ("customers.contacts.update",
                              {"id": mine, "contact_id": contact, "title": "x"}),
                             ("customers.contacts.delete", {"id": mine, "contact_id": contact}),
                             ("customers.activities.create",
                              {"id": mine, "kind": "call", "summary": "x"}),
                             ("customers.merge", {"id": theirs, "from": [mine]}),
                             ("customers.merge", {"id": mine, "from": [theirs]})]:
                r = write(client, op, args, SALES_B)
                assert r["status"] == 404, (op, r)

            # The manager of the team sees and assigns; only within the team.
            r = read(client, "customers.contacts.list", {"id": mine}, MANAGER, min_seq=seq)
            assert r["status"] == 200 and [i["name"] for i in r["data"]["items"]] == ["周杰"]
            r = write(client, "customers.assign", {"id": mine, "owner": "bob"}, SALES_A)
            assert r["status"] == 403 and r["error"]["code"] == "forbidden", r
            r = write(client, "customers.assign", {"id": mine, "owner": "bob", "team": "west"},
                      MANAGER)
            assert r["status"] == 422, r
            assert r["error"]["details"]["errors"][0]["code"] == "out_of_scope"
            west = {"user": "wu", "role": "manager", "team": "west"}
            r = write(client, "customers.assign", {"id": mine, "owner": "wu"}, west)
            assert r["status"] == 404, r
            r = write(client, "customers.assign", {"id": mine, "owner": "bob"}, MANAGER)
            assert r["status"] == 200 and r["data"]["owner"] == "bob", r
            assert r["data"]["team"] == "east"

            # Now Bob's: he reads the timeline, Alice no longer does.
            r = read(client, "customers.timeline", {"id": mine}, SALES_B, min_seq=r["seq"])
            assert r["status"] == 200, r
            assert [e["type"] for e in r["data"]["items"]][:1] == ["customer.assigned"]
            r = read(client, "customers.timeline", {"id": mine}, SALES_A)
            assert r["status"] == 404
            # Bob merges his two; a readonly user reads but cannot write.
            r = write(client, "customers.merge", {"id": theirs, "from": [mine]}, SALES_B)
            assert r["status"] == 200, r
            readonly = {"user": "ro", "role": "readonly", "team": "east"}
            r = read(client, "customers.contacts.list", {"id": theirs}, readonly, min_seq=r["seq"])
            assert r["status"] == 200 and r["data"]["items"][0]["name"] == "周杰", r
            r = write(client, "customers.contacts.create", {"id": theirs, "name": "x"}, readonly)
            assert r["status"] == 403, r
            r = read(client, "customers.timeline", {"id": theirs}, {"user": "x", "role": "guest"})
            assert r["status"] == 404, r
            r = write(client, "customers.contacts.create", {"id": theirs, "name": "x"}, ADMIN,
                      idem="relations-1")
            again = write(client, "customers.contacts.create", {"id": theirs, "name": "x"}, ADMIN,
                          idem="relations-1")
            assert r["status"] == again["status"] == 200 and again["data"] == r["data"]
            assert again["seq"] == r["seq"]
            r = read(client, "customers.contacts.list", {"id": theirs}, ADMIN)
            assert r["status"] == 200 and [i["name"] for i in r["data"]["items"]] == ["周杰", "x"]
    finally:
        assert instance.stop() == 0, instance.log_tail()
