"""Issue 3, end to end: the story a new sales team walks through the HTTP API.

Starts the real broker, rapport-users, rapport-customers and rapport-gateway
and talks HTTP only, as a client would: the admin makes a manager and two
sales people of one team; sales A records customers with Chinese names,
contacts and visits; sales B cannot see them, the manager sees both; a
1,000-row CSV with 10 duplicate and 5 invalid rows is dry-run, then
imported, with an exact report; the export returns what was imported; the
composition report adds up; a retried POST with the same Idempotency-Key
makes one customer; a stale If-Match gets 412.
"""

import csv
import io
import json
import urllib.parse

import pytest

from test_gateway import JSON, assert_problem
from test_gateway_users import CUSTOMERS, USERS, Stack, bearer, create_user

NAME = "上海星辰贸易有限公司"
ADDRESS = "上海市浦东新区世纪大道100号 环球金融中心 21楼"
CSV_TYPE = {"Content-Type": "text/csv; charset=utf-8"}
COLUMNS = ["name", "short_name", "grade", "tier", "region", "industry", "mobile", "email",
           "tax_id", "address"]
REGIONS = ["华东", "华北", "华南", "西南"]
ROWS = 1000
DUPLICATES = 10
INVALID = 5


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, gateways=1)
    yield s
    s.stop()


def call(gw, key, method, path, body=None, **headers):
    hdrs = {**bearer(key), **headers}
    if body is not None:
        hdrs.update(JSON)
    return gw.json(method, path, body, hdrs)


def list_all(gw, key, path=CUSTOMERS, **query):
    """Every item of a list, following next_cursor."""
    items, cursor = [], None
    while True:
        q = {**query, "limit": 200, **({"cursor": cursor} if cursor else {})}
        status, _, page = call(gw, key, "GET", f"{path}?{urllib.parse.urlencode(q)}")
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def team(gw):
    """The admin makes a manager and two sales people of team east."""
    mgr = create_user(gw, name="王经理", email="wang@east.example.cn", role="manager",
                      team="east")
    a = create_user(gw, name="销售甲", email="a@east.example.cn", role="sales", team="east",
                    manager_id=mgr["id"])
    b = create_user(gw, name="销售乙", email="b@east.example.cn", role="sales", team="east",
                    manager_id=mgr["id"])
    return mgr["api_key"], a["api_key"], b["api_key"]


def import_file():
    """1,000 data rows: 985 good, 10 repeating an earlier row, 5 invalid.
    Returns (csv text, good rows, {line: expected code})."""
    out = io.StringIO()
    w = csv.DictWriter(out, COLUMNS, lineterminator="\r\n")
    w.writeheader()
    good, bad = [], {}
    invalid = {100: ("email", "not-an-email"), 300: ("grade", "Z"), 500: ("name", ""),
               700: ("mobile", "12"), 900: ("tier", "whale")}
    for i in range(ROWS):
        line = i + 2  # the header is line 1
        if i % 97 == 50 and len(bad) < DUPLICATES + len(invalid) and \
                sum(1 for c in bad.values() if c == "duplicate") < DUPLICATES:
            w.writerow(good[i // 2])  # an earlier row of the same file, again
            bad[line] = "duplicate"
            continue
        row = {"name": f"{REGIONS[i % 4]}{i:04d}号商贸有限公司", "short_name": f"客户{i}",
               "grade": "ABCDE"[i % 5], "tier": ["lead", "prospect", "transacting"][i % 3],
               "region": REGIONS[i % 4], "industry": "制造" if i % 2 else "零售",
               "mobile": f"139{i:08d}", "email": f"buyer{i}@example.cn",
               "tax_id": f"9133{i:014d}", "address": f"杭州市西湖区文三路{i}号"}
        if i in invalid:
            field, value = invalid[i]
            row[field] = value
            bad[line] = field
        else:
            good.append(row)
        w.writerow(row)
    assert sum(1 for c in bad.values() if c == "duplicate") == DUPLICATES
    assert len(bad) == DUPLICATES + INVALID and len(good) == ROWS - DUPLICATES - INVALID
    return out.getvalue(), good, bad


def post_import(gw, key, body, dry_run):
    status, _, raw = gw.request("POST", f"{CUSTOMERS}/import?mode=create&dry_run={dry_run}",
                                body.encode(), {**bearer(key), **CSV_TYPE}, timeout=120)
    assert status == 200, raw
    return json.loads(raw)


def assert_report(report, good, bad, dry_run):
    assert report["dry_run"] is dry_run
    assert report["created"] == len(good) and report["updated"] == 0, report
    assert report["rejected_total"] == len(bad)
    lines = {r["line"]: r["errors"] for r in report["rejected"]}
    assert sorted(lines) == sorted(bad), lines
    for line, expected in bad.items():
        codes = {e["code"] for e in lines[line]}
        fields = {e.get("field") for e in lines[line]}
        if expected == "duplicate":
            assert "duplicate" in codes, (line, lines[line])
        else:
            assert expected in fields and "duplicate" not in codes, (line, lines[line])


def test_a_sales_team_story(stack):
    gw = stack.gateways[0]
    mgr, a, b = team(gw)

    # Sales A records a customer with a contact and a visit.
    status, headers, c1 = call(gw, a, "POST", CUSTOMERS,
                               {"name": NAME, "address": ADDRESS, "mobile": "13800138000",
                                "grade": "A", "tier": "key", "region": "华东"})
    assert status == 201, c1
    assert c1["name"] == NAME and c1["address"] == ADDRESS and c1["mobile"] == "+8613800138000"
    path = f"{CUSTOMERS}/{c1['id']}"
    status, _, contact = call(gw, a, "POST", f"{path}/contacts",
                              {"name": "李明", "title": "采购总监", "phones": ["13900139000"],
                               "email": "Li.Ming@XingChen.cn", "birthday": "1980-05-17",
                               "hobbies": "钓鱼、围棋"})
    assert status == 201, contact
    assert contact["phones"] == ["+8613900139000"] and contact["email"] == "li.ming@xingchen.cn"
    status, _, visit = call(gw, a, "POST", f"{path}/activities",
                            {"kind": "visit", "at": "2026-11-20T15:30:00+08:00",
                             "summary": "拜访李总，介绍新产品线", "outcome": "有意向",
                             "next_step": "寄送报价", "next_step_on": "2026-11-27"})
    assert status == 201, visit
    status, headers, c1 = call(gw, a, "GET", path)
    assert status == 200 and c1["last_contacted_at"] == "2026-11-20T07:30:00.000Z", c1
    assert [x["id"] for x in list_all(gw, a, q="李明")] == [c1["id"]]
    timeline = list_all(gw, a, f"{path}/timeline")
    assert [e["type"] for e in timeline][:2] == ["customer.activity_logged",
                                                 "customer.contact_added"], timeline

    # Sales B cannot see it; B's own customer is B's alone.
    status, headers, body = gw.request("GET", path, headers=bearer(b))
    assert_problem(status, headers, body, 404, "not_found")
    assert list_all(gw, b) == []
    status, _, c2 = call(gw, b, "POST", CUSTOMERS, {"name": "北京远航科技有限公司",
                                                     "region": "华北", "grade": "B"})
    assert status == 201, c2
    assert [x["id"] for x in list_all(gw, a)] == [c1["id"]]
    # The manager sees both.
    assert {x["id"] for x in list_all(gw, mgr)} == {c1["id"], c2["id"]}
    assert call(gw, mgr, "GET", path)[0] == 200

    # A retried POST with the same Idempotency-Key makes one customer.
    retry = {"Idempotency-Key": "story-retry-1"}
    first = call(gw, a, "POST", CUSTOMERS, {"name": "广州南风贸易有限公司"}, **retry)
    again = call(gw, a, "POST", CUSTOMERS, {"name": "广州南风贸易有限公司"}, **retry)
    assert first[0] == again[0] == 201 and first[2]["id"] == again[2]["id"]
    assert first[1]["x-rapport-seq"] == again[1]["x-rapport-seq"]
    assert sum(1 for x in list_all(gw, a) if x["name"] == "广州南风贸易有限公司") == 1

    # A stale If-Match is 412; the current one works.
    status, _, u = call(gw, a, "PATCH", path, {"grade": "B"}, **{"If-Match": f'"{c1["version"]}"'})
    assert status == 200 and u["version"] == c1["version"] + 1, u
    status, headers, body = gw.request("PATCH", path, b'{"grade": "C"}',
                                       {**bearer(a), **JSON, "If-Match": f'"{c1["version"]}"'})
    assert_problem(status, headers, body, 412, "version_mismatch")

    # The import: dry run first (nothing written), then for real.
    text, good, bad = import_file()
    before = len(list_all(gw, a))
    assert_report(post_import(gw, a, text, "true"), good, bad, True)
    assert len(list_all(gw, a)) == before
    assert_report(post_import(gw, a, text, "false"), good, bad, False)
    mine = list_all(gw, a)
    assert len(mine) == before + len(good)
    assert all(x["owner"] == mine[0]["owner"] for x in mine)  # A owns what A imported

    # The export returns what was imported, field for field.
    status, headers, raw = gw.request("GET", f"{CUSTOMERS}/export", headers=bearer(a),
                                      timeout=60)
    assert status == 200 and headers["content-type"].startswith("text/csv"), raw[:200]
    exported = {r["tax_id"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
                if r["tax_id"]}
    assert len(exported) == len(good)
    for row in good:
        got = exported[row["tax_id"]]
        assert got["name"] == row["name"] and got["address"] == row["address"]
        assert got["mobile"] == "+86" + row["mobile"] and got["grade"] == row["grade"]

    # The composition report adds up, for A and for the manager.
    for key, count in ((a, len(mine)), (mgr, len(mine) + 1)):
        for by in ("grade", "tier", "region"):
            status, _, rep = call(gw, key, "GET", f"/api/v1/reports/customers/composition?by={by}")
            assert status == 200 and rep["by"] == by and rep["total"] == count, rep
            assert sum(g["count"] for g in rep["groups"]) == count
            assert abs(sum(g["share"] for g in rep["groups"]) - 1.0) < 1e-9

    # B still sees none of A's; the users list is the admin's to read.
    assert [x["id"] for x in list_all(gw, b)] == [c2["id"]]
    status, headers, body = gw.request("POST", USERS, b'{"name": "x", "email": "x@y.cn", '
                                       b'"role": "sales", "team": "east"}', {**bearer(a), **JSON})
    assert_problem(status, headers, body, 403, "forbidden")
