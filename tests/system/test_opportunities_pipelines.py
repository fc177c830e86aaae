"""Issue 14: the pipelines of the opportunities service over HTTP —
GET/POST /api/v1/pipelines, GET/PATCH /api/v1/pipelines/{id}, GET/PUT
/api/v1/pipelines/{id}/lost-reasons (services/opportunities/pipelines.c,
docs/opportunities.md § Pipelines, docs/api.md) through the real gateway.

Real processes: the broker, rapport-users, rapport-customers, two
rapport-opportunities (both compete for the writer lease: the default
pipeline is appended once) and rapport-gateway. A removed stage that still
has open deals (409 stage_in_use) needs deals, which cannot be created over
HTTP on this branch yet: apply's refusal is covered by the self-test
pipelines_test (build/test/test_opportunities_pipelines).
"""

import os
import urllib.parse

import pytest

from conftest import SLOW, wait_until
from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, bearer, create_user
from test_opportunities_list import OPP_BINARY, Opportunities

PIPELINES = "/api/v1/pipelines"
DEFAULT_STAGES = [("lead", "线索", "open", 10), ("contacted", "初步沟通", "open", 20),
                  ("needs_analysis", "需求分析", "open", 40), ("proposal", "方案提交", "open", 60),
                  ("negotiation", "谈判", "open", 80), ("won", "成交", "won", 100),
                  ("lost", "输单", "lost", 0)]
DEFAULT_REASONS = ["价格", "竞争对手", "预算不足", "时机不成熟", "无回应"]
RECORD_KEYS = {"id", "name", "team", "stages", "lost_reasons", "version", "created_at",
               "updated_at"}


@pytest.fixture
def stack(broker_factory, tmp_path):
    if not os.access(OPP_BINARY, os.X_OK):
        pytest.fail(f"{OPP_BINARY} is not built (run make build)")
    s = Stack(broker_factory, tmp_path, customers=True, gateways=1)
    for n in range(2):
        s.procs.insert(0, Opportunities(s.broker, tmp_path / f"opportunities{n}"))
    with s.broker.client() as client:
        wait_until(lambda: client.mmi("opportunities") == "200", 15 * SLOW, interval=0.05,
                   what="opportunities serving")
    yield s
    s.stop()


def stages(count, prefix="s"):
    """count open stages with Chinese names, then a won and a lost one."""
    return ([{"key": f"{prefix}{i}", "name": f"第{i}阶段·跟进", "kind": "open",
              "probability": i % 101, "rot_days": i % 31} for i in range(count)]
            + [{"key": "won", "name": "赢单", "kind": "won"},
               {"key": "lost", "name": "丢单", "kind": "lost"}])


def write(gw, method, path, body, headers=AUTH, **extra):
    return gw.json(method, path, body, {**headers, **JSON, **extra})


def test_default_pipeline_and_admin_writes(stack):
    gw = stack.gateways[0]

    # The default pipeline: appended by the writer once its store has none.
    wait_until(lambda: gw.request("GET", f"{PIPELINES}/default", headers=AUTH)[0] == 200,
               15 * SLOW, interval=0.05, what="the default pipeline")
    status, headers, default = gw.json("GET", f"{PIPELINES}/default", headers=AUTH)
    assert status == 200 and set(default) == RECORD_KEYS, default
    assert default["team"] is None and default["version"] == 1
    assert headers["etag"] == '"1"'
    assert [(s["key"], s["name"], s["kind"], s["probability"]) for s in default["stages"]] == \
        DEFAULT_STAGES
    assert all(s["rot_days"] == 30 for s in default["stages"])
    assert default["lost_reasons"] == DEFAULT_REASONS
    assert default["created_at"] == default["updated_at"]
    with stack.broker.client() as client:
        events, _ = client.read_all()
    seeds = [e for e in events if e["type"] == "opportunity.pipeline_created"]
    assert len(seeds) == 1 and seeds[0]["data"]["id"] == "default", seeds

    # Who writes: admins only; who reads: everyone but integrators.
    sales = create_user(gw, name="东区销售", email="sales@example.cn", role="sales", team="east")
    west = create_user(gw, name="西区经理", email="west@example.cn", role="manager", team="west")
    erp = create_user(gw, name="ERP", email="erp@example.cn", role="integrator", team="east")
    body = {"name": "华东大客户", "team": "east", "stages": stages(120),
            "lost_reasons": ["价格", "选型失败"]}
    for key in (sales, west):
        status, headers, raw = gw.request("POST", PIPELINES, body,
                                          {**bearer(key["api_key"]), **JSON})
        assert_problem(status, headers, raw, 403, "forbidden")
    status, headers, raw = gw.request("GET", PIPELINES, headers=bearer(erp["api_key"]))
    assert_problem(status, headers, raw, 403, "forbidden")

    # An admin creates a team's pipeline of 122 stages (Chinese names round-trip).
    status, headers, east = write(gw, "POST", PIPELINES, body)
    assert status == 201, east
    assert headers["location"] == f"{PIPELINES}/{urllib.parse.quote(east['id'], safe='')}"
    assert headers["etag"] == '"1"' and int(headers["x-rapport-seq"]) > 0
    assert set(east) == RECORD_KEYS and east["version"] == 1 and east["team"] == "east"
    assert len(east["stages"]) == 122
    assert east["stages"][119] == {"key": "s119", "name": "第119阶段·跟进", "kind": "open",
                                   "probability": 18, "rot_days": 26}
    assert east["stages"][120] == {"key": "won", "name": "赢单", "kind": "won",
                                   "probability": 100, "rot_days": 0}
    assert east["lost_reasons"] == ["价格", "选型失败"]
    path = f"{PIPELINES}/{east['id']}"
    status, _, got = gw.json("GET", path, headers=AUTH)
    assert status == 200 and got == east

    # The most stages there may be, and one more.
    status, _, big = write(gw, "POST", PIPELINES, {"name": "两百阶段", "stages": stages(198)})
    assert status == 201 and len(big["stages"]) == 200, big
    status, headers, raw = gw.request("POST", PIPELINES, {"name": "太多", "stages": stages(199)},
                                      {**AUTH, **JSON})
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert problem["errors"][0]["field"] == "stages", problem

    # Scoping: east sees its team's and everyone's; west does not see east's.
    def ids(key):
        status, _, page = gw.json("GET", f"{PIPELINES}?limit=200", headers=bearer(key))
        assert status == 200 and page["next_cursor"] is None, page
        return {p["id"] for p in page["items"]}
    assert ids(sales["api_key"]) == {"default", east["id"], big["id"]}
    assert ids(west["api_key"]) == {"default", big["id"]}
    for key in (west, erp):
        status, headers, raw = gw.request("GET", path, headers=bearer(key["api_key"]))
        assert_problem(status, headers, raw, 404, "not_found")
    status, _, got = gw.json("GET", path, headers=bearer(sales["api_key"]))
    assert status == 200 and got["id"] == east["id"]
    # Pages of one, in id order, through the cursor.
    seen, cursor = [], None
    while True:
        query = "?limit=1" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, _, page = gw.json("GET", PIPELINES + query, headers=AUTH)
        assert status == 200 and len(page["items"]) <= 1, page
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted({"default", east["id"], big["id"]})


def test_patch_lost_reasons_versions_and_retries(stack):
    gw = stack.gateways[0]
    status, _, p = write(gw, "POST", PIPELINES, {"name": "渠道销售", "stages": [
        {"key": "lead", "name": "线索", "kind": "open", "probability": 10},
        {"key": "demo", "name": "演示", "kind": "open", "probability": 50, "rot_days": 14},
        {"key": "won", "name": "成交", "kind": "won"},
        {"key": "lost", "name": "输单", "kind": "lost"}]})
    assert status == 201, p
    path = f"{PIPELINES}/{p['id']}"

    # Checks name the field.
    for bad, field, code in [
            ({"stages": [{"key": "Lead", "name": "线索", "kind": "open"}] + stages(0)},
             "stages[0].key", "invalid"),
            ({"stages": [{"key": "won", "name": "一", "kind": "won"}] + stages(0)},
             "stages[1].key", "duplicate"),
            ({"stages": [{"key": "x", "name": "", "kind": "open"}] + stages(0)},
             "stages[0].name", "required"),
            ({"stages": [{"key": "x", "name": "一", "kind": "maybe"}] + stages(0)},
             "stages[0].kind", "invalid"),
            ({"stages": [{"key": "x", "name": "一", "kind": "open", "probability": 101}]
              + stages(0)}, "stages[0].probability", "out_of_range"),
            ({"stages": [{"key": "x", "name": "一", "kind": "open"}]}, "stages", "invalid"),
            ({"name": "x" * 101}, "name", "too_long"),
            ({"team": ""}, "team", "required"),
            ({"lost_reasons": []}, "lost_reasons", "read_only"),
            ({"colour": "red"}, "colour", "unknown")]:
        status, headers, raw = gw.request("PATCH", path, bad, {**AUTH, **JSON})
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in problem["errors"]], (bad, problem)

    # Reorder and rename stages, keep the keys: fine, version 2.
    new_stages = [{"key": "demo", "name": "产品演示", "kind": "open", "probability": 30},
                  {"key": "lead", "name": "销售线索", "kind": "open", "probability": 5},
                  {"key": "lost", "name": "丢单", "kind": "lost"},
                  {"key": "won", "name": "签约", "kind": "won"}]
    status, headers, q = write(gw, "PATCH", path, {"name": "渠道销售（新）", "stages": new_stages},
                               **{"If-Match": '"1"'})
    assert status == 200 and q["version"] == 2 and headers["etag"] == '"2"', q
    assert [s["key"] for s in q["stages"]] == ["demo", "lead", "lost", "won"]
    assert q["stages"][1]["name"] == "销售线索" and q["name"] == "渠道销售（新）"
    assert q["created_at"] == p["created_at"] and q["updated_at"] >= p["updated_at"]
    # A stale If-Match: 412, nothing changed.
    status, headers, raw = gw.request("PATCH", path, {"name": "旧"},
                                      {**AUTH, **JSON, "If-Match": '"1"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, raw = gw.request("PATCH", f"{PIPELINES}/nope", {"name": "旧"},
                                      {**AUTH, **JSON})
    assert_problem(status, headers, raw, 404, "not_found")
    # Removing a stage without deals is fine too (the team: now east's).
    status, _, q = write(gw, "PATCH", path, {"team": "east", "stages": new_stages[1:]})
    assert status == 200 and q["version"] == 3 and len(q["stages"]) == 3, q

    # Lost reasons: read and replaced whole, with the pipeline's version.
    status, headers, lr = gw.json("GET", f"{path}/lost-reasons", headers=AUTH)
    assert status == 200 and lr == {"id": p["id"], "lost_reasons": [], "version": 3}, lr
    assert headers["etag"] == '"3"'
    reasons = ["价格", "竞争对手", "内部流程变化"]
    status, headers, lr = write(gw, "PUT", f"{path}/lost-reasons", {"lost_reasons": reasons},
                                **{"If-Match": '"3"'})
    assert status == 200 and lr == {"id": p["id"], "lost_reasons": reasons, "version": 4}, lr
    assert headers["etag"] == '"4"' and int(headers["x-rapport-seq"]) > 0
    status, headers, raw = gw.request("PUT", f"{path}/lost-reasons", {"lost_reasons": []},
                                      {**AUTH, **JSON, "If-Match": '"3"'})
    assert_problem(status, headers, raw, 412, "version_mismatch")
    status, headers, raw = gw.request("PUT", f"{path}/lost-reasons",
                                      {"lost_reasons": ["价格", "价格"]}, {**AUTH, **JSON})
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert problem["errors"][0]["field"] == "lost_reasons[1]", problem
    sales = create_user(gw, name="销售", email="s@example.cn", role="sales", team="east")
    status, headers, raw = gw.request("PUT", f"{path}/lost-reasons", {"lost_reasons": []},
                                      {**bearer(sales["api_key"]), **JSON})
    assert_problem(status, headers, raw, 403, "forbidden")
    status, headers, raw = gw.request("PATCH", path, {"name": "x"},
                                      {**bearer(sales["api_key"]), **JSON})
    assert_problem(status, headers, raw, 403, "forbidden")
    status, _, lr = gw.json("GET", f"{path}/lost-reasons", headers=bearer(sales["api_key"]))
    assert status == 200 and lr["lost_reasons"] == reasons
    status, _, got = gw.json("GET", path, headers=AUTH)
    assert got["lost_reasons"] == reasons and got["version"] == 4

    # Idempotency-Key: a retry gets the first answer, appended once.
    body = {"name": "重试流程", "stages": stages(2)}
    key = {"Idempotency-Key": "pipelines-retry-1"}
    first = write(gw, "POST", PIPELINES, body, **key)
    again = write(gw, "POST", PIPELINES, body, **key)
    assert first[0] == again[0] == 201 and first[2] == again[2], (first, again)
    assert first[1]["x-rapport-seq"] == again[1]["x-rapport-seq"]
    key = {"Idempotency-Key": "pipelines-retry-2", "If-Match": '"1"'}
    path = f"{PIPELINES}/{first[2]['id']}"
    first = write(gw, "PATCH", path, {"name": "重试流程二"}, **key)
    again = write(gw, "PATCH", path, {"name": "重试流程二"}, **key)
    assert first[0] == again[0] == 200 and first[2] == again[2], (first, again)
    assert first[2]["version"] == 2
    with stack.broker.client() as client:
        events, _ = client.read_all()
    assert sum(e["type"] == "opportunity.pipeline_created" and e["data"]["pipeline"]["name"]
               == "重试流程" for e in events) == 1
    # The gateway keeps each caller's keys apart: "seed/default" is not the
    # seed's journal key, it creates (the self-test checks the service
    # refuses an idem seed/… sent to it directly).
    status, _, other = write(gw, "POST", PIPELINES, body, **{"Idempotency-Key": "seed/default"})
    assert status == 201 and other["id"] != "default" and other["name"] == "重试流程", other


def test_writer_failover_seeds_once(stack):
    gw = stack.gateways[0]
    wait_until(lambda: gw.request("GET", f"{PIPELINES}/default", headers=AUTH)[0] == 200,
               15 * SLOW, interval=0.05, what="the default pipeline")

    def created(name):
        def attempt():
            status, _, body = write(gw, "POST", PIPELINES, {"name": name, "stages": stages(1)})
            return status == 201
        wait_until(attempt, 30 * SLOW, interval=0.2, what=f"a write ({name})")

    # A third instance, its store empty, then both first ones stopped: the
    # newcomer holds the lease in the end, and having caught up with the
    # journal before it serves, it does not append the default again.
    stack.procs.insert(0, Opportunities(stack.broker, stack.tmp_path / "opportunities2"))
    for old in [p for p in stack.procs if p.name == "opportunities"][1:]:
        assert old.stop() == 0, old.log_tail()
        stack.procs.remove(old)
        created(f"接管后{len(stack.procs)}")
    status, _, default = gw.json("GET", f"{PIPELINES}/default", headers=AUTH)
    assert status == 200 and default["version"] == 1, default
    with stack.broker.client() as client:
        events, _ = client.read_all()
    seeds = [e for e in events if e["type"] == "opportunity.pipeline_created"
             and e["data"]["id"] == "default"]
    assert len(seeds) == 1, seeds


def test_stage_in_use_with_open_deals(stack):
    gw = stack.gateways[0]
    status, _, p = write(gw, "POST", PIPELINES, {"name": "项目制销售", "stages": [
        {"key": "lead", "name": "线索", "kind": "open"},
        {"key": "demo", "name": "演示", "kind": "open"},
        {"key": "won", "name": "成交", "kind": "won"},
        {"key": "lost", "name": "输单", "kind": "lost"}]})
    assert status == 201, p
    path = f"{PIPELINES}/{p['id']}"
    status, _, c = write(gw, "POST", "/api/v1/customers", {"name": "无锡精密仪器有限公司"})
    assert status == 201, c
    deals = []
    for title in ("一期", "二期"):
        status, _, d = write(gw, "POST", "/api/v1/opportunities", {
            "customer_id": c["id"], "title": title, "pipeline_id": p["id"], "stage": "demo"})
        assert status == 201 and d["stage"] == "demo", d
        deals.append(d)
    without_demo = [s for s in p["stages"] if s["key"] != "demo"]

    # Dropping "demo" while it has open deals: 409, early on the writer and,
    # with an Idempotency-Key (no early check), from apply; nothing changes.
    for extra in ({}, {"Idempotency-Key": "drop-demo-1"}):
        status, headers, raw = gw.request("PATCH", path, {"stages": without_demo},
                                          {**AUTH, **JSON, **extra})
        problem = assert_problem(status, headers, raw, 409, "stage_in_use")
        assert problem["stage"] == "demo" and problem["open"] == 2, problem
    # Renaming and reordering it is fine.
    renamed = [dict(s, name="方案演示") if s["key"] == "demo" else s for s in p["stages"]]
    status, _, q = write(gw, "PATCH", path, {"stages": renamed[::-1]})
    assert status == 200 and q["version"] == 2 and q["stages"][2]["name"] == "方案演示", q

    # Once both deals are won, then lost (closed), "demo" may go.
    status, _, d = write(gw, "POST", f"/api/v1/opportunities/{deals[0]['id']}/stage",
                         {"stage": "won"})
    assert status == 200 and d["status"] == "won", d
    status, headers, raw = gw.request("PATCH", path, {"stages": without_demo}, {**AUTH, **JSON})
    assert assert_problem(status, headers, raw, 409, "stage_in_use")["open"] == 1
    status, _, lr = write(gw, "PUT", f"{path}/lost-reasons", {"lost_reasons": ["价格"]})
    assert status == 200, lr
    status, _, d = write(gw, "POST", f"/api/v1/opportunities/{deals[1]['id']}/stage",
                         {"stage": "lost", "lost_reason": "价格"})
    assert status == 200 and d["status"] == "lost", d
    status, _, q = write(gw, "PATCH", path, {"stages": without_demo})
    assert status == 200 and [s["key"] for s in q["stages"]] == ["lead", "won", "lost"], q
