"""Issue 3: customers import, export, list filters and sorts, duplicates and the
composition report, over HTTP (broker + one customers instance + gateway,
admin key). See docs/api.md and docs/customers.md.
"""

import csv
import http.client
import io
import json
import urllib.parse

import pytest

from conftest import SLOW, UNDER_ASAN
from test_customers import Customers
from test_gateway import AUTH, Gateway, assert_problem

BASE = "/api/v1/customers"
CSV_HEADERS = {**AUTH, "Content-Type": "text/csv; charset=utf-8"}
IMPORT_MAX = 4 * 1024 * 1024
COLUMNS = ["code", "name", "short_name", "grade", "tier", "region", "industry", "mobile",
           "email", "tax_id", "address", "tags", "custom"]
REGIONS = ["华东", "华北", "华南", "西南"]


@pytest.fixture
def gateway(broker_factory, tmp_path):
    broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "2000"})
    customers = Customers(broker, tmp_path / "customers0")
    # A small import cap, so the 413 is cheap to reach.
    gw = Gateway(broker, tmp_path / "gateway",
                 {"RAPPORT_IMPORT_MAX_BYTES": str(IMPORT_MAX)}).wait_ready()
    gw.wait_customers()
    yield gw
    gw_code = gw.stop()
    c_code = customers.stop()
    assert gw_code == 0, f"gateway exited with {gw_code}\n" + gw.log_tail()
    assert c_code == 0, f"customers exited with {c_code}\n" + customers.log_tail()


def row(i):
    return {"code": "", "name": f"{REGIONS[i % 4]}{i:04d}号贸易有限公司", "short_name": f"客户{i}",
            "grade": "ABCDE"[i % 5], "tier": "prospect", "region": REGIONS[i % 4],
            "industry": "制造" if i % 2 else "零售", "mobile": f"139{i:08d}",
            "email": f"buyer{i}@example.cn", "tax_id": f"9131{i:014d}",
            "address": f"上海市浦东新区{i}号", "tags": "vip;重点" if i % 10 == 0 else "",
            # a quoted cell spanning lines (JSON allows the newlines)
            "custom": f'{{\n "floor": {i}\n}}' if i % 50 == 7 else ""}


def make_csv(rows):
    """The CSV text and each row's line number (header = 1; quoted newlines count)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    lines, line = [], 2
    for r in rows:
        lines.append(line)
        writer.writerow([r[c] for c in COLUMNS])
        line += 1 + sum(str(v).count("\n") for v in r.values())
    return "\ufeff" + out.getvalue(), lines


def thousand_rows():
    """1,000 rows: 985 good, 10 duplicates, 5 invalid. Returns rows, expected rejects."""
    rows, expected = [], {}
    for i in range(1000):
        rows.append(row(i))
    # Duplicates of earlier rows: same tax id, same name, same e-mail, same mobile.
    for n, i in enumerate(range(100, 1000, 90)):
        d = row(2000 + n)
        kind = ["tax_id", "name", "email", "mobile"][n % 4]
        d[kind] = rows[n][kind]
        rows[i] = d
        expected[i] = ("duplicate", kind)
    # Invalid rows.
    for i, (field, value) in zip([11, 222, 333, 444, 555],
                                 [("email", "not-an-email"), ("grade", "Z"),
                                  ("mobile", "12"), ("name", ""), ("tier", "vip")]):
        rows[i] = {**row(3000 + i), field: value}
        expected[i] = ("required" if field == "name" else "invalid", field)
    return rows, expected


def post_import(gw, text, query="", headers=CSV_HEADERS):
    data = text.encode() if isinstance(text, str) else text
    status, h, body = gw.request("POST", f"{BASE}/import{query}", data, headers,
                                 timeout=120)
    return status, h, json.loads(body)


def check_report(report, rows, lines, expected, dry_run):
    assert report["dry_run"] is dry_run
    assert report["created"] == len(rows) - len(expected), report
    assert report["updated"] == 0 and report["skipped"] == 0
    got = {r["line"]: r["errors"] for r in report["rejected"]}
    want = {lines[i]: v for i, v in expected.items()}
    assert sorted(got) == sorted(want), (sorted(got), sorted(want))
    for line, (code, field) in want.items():
        assert [(e["code"], e["field"]) for e in got[line]] == [(code, field)], (line, got[line])
    assert [r["line"] for r in report["rejected"]] == sorted(got)  # in line order


def list_all(gw, query=""):
    items, cursor = [], None
    for _ in range(100):
        q = query + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, _, page = gw.json("GET", f"{BASE}?limit=200{q}", headers=AUTH)
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("too many pages")


def test_import_dry_run_then_real_then_export(gateway):
    rows, expected = thousand_rows()
    text, lines = make_csv(rows)
    assert any(l2 - l1 > 1 for l1, l2 in zip(lines, lines[1:]))  # multi-line cells shift lines

    status, _, report = post_import(gateway, text, "?dry_run=true")
    assert status == 200, report
    check_report(report, rows, lines, expected, True)
    assert list_all(gateway) == []  # a dry run writes nothing

    status, headers, report = post_import(gateway, text)
    assert status == 200, report
    check_report(report, rows, lines, expected, False)
    assert int(headers["x-rapport-seq"]) >= 985

    # Export: what was imported, readable by the CSV module, re-importable columns.
    status, headers, body = gateway.request("GET", f"{BASE}/export", headers=AUTH)
    assert status == 200 and headers["content-type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(body.decode())))
    good = [r for i, r in enumerate(rows) if i not in expected]
    assert len(exported) == 985
    by_tax = {r["tax_id"]: r for r in exported}
    for r in good:
        e = by_tax[r["tax_id"]]
        assert (e["name"], e["region"], e["address"], e["grade"]) == \
            (r["name"], r["region"], r["address"], r["grade"])
        assert e["mobile"] == "+86" + r["mobile"] and e["code"].startswith("C")
        assert e["tags"] == r["tags"]
    # The same filters as the list.
    status, _, body = gateway.request("GET", f"{BASE}/export?region=%E5%8D%8E%E4%B8%9C",
                                      headers=AUTH)
    regional = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(regional) == sum(1 for r in good if r["region"] == "华东")

    # Re-importing the export in create mode: every row is a duplicate.
    status, _, report = post_import(gateway, body.decode(), "?dry_run=true")
    assert report["created"] == 0 and len(report["rejected"]) == len(regional)
    assert all(r["errors"][0]["code"] == "duplicate" for r in report["rejected"])

    # Composition adds up.
    for by in ["grade", "region", "industry", "tier", "owner"]:
        status, _, comp = gateway.json("GET", f"/api/v1/reports/customers/composition?by={by}",
                                       headers=AUTH)
        assert status == 200 and comp["by"] == by and comp["total"] == 985, comp
        assert sum(g["count"] for g in comp["groups"]) == 985
        assert abs(sum(g["share"] for g in comp["groups"]) - 1.0) < 1e-9
    grades = {g["key"]: g["count"] for g in gateway.json(
        "GET", "/api/v1/reports/customers/composition?by=grade", headers=AUTH)[2]["groups"]}
    assert grades == {k: sum(1 for r in good if r["grade"] == k) for k in "ABCDE"}
    status, headers, body = gateway.request(
        "GET", "/api/v1/reports/customers/composition?by=colour", headers=AUTH)
    assert_problem(status, headers, body, 422, "invalid")

    # Filters, sorts and paging over what was imported.
    for sort, key in [("name", "name"), ("-name", "name"), ("created_at", "created_at"),
                      ("-code", "code"), ("grade", "grade"), ("-updated_at", "updated_at")]:
        items = list_all(gateway, f"&sort={sort}")
        assert len(items) == 985 and len({c["id"] for c in items}) == 985, sort
        values = [(c[key] or "", c["id"]) for c in items]
        assert values == sorted(values, reverse=sort.startswith("-")), sort
    east = list_all(gateway, "&region=%E5%8D%8E%E4%B8%9C&sort=-name")
    assert len(east) == len(regional) and all(c["region"] == "华东" for c in east)
    vip = list_all(gateway, "&tag=vip&industry=%E9%9B%B6%E5%94%AE")
    assert vip and all("vip" in c["tags"] and c["industry"] == "零售" for c in vip)
    assert list_all(gateway, "&created_after=2999-01-01") == []
    assert len(list_all(gateway, "&created_before=2999-01-01T00:00:00Z")) == 985
    assert len(list_all(gateway, "&last_contacted_before=2000-01-01")) == 985  # never contacted
    status, _, page = gateway.json("GET", f"{BASE}?limit=7&sort=-name", headers=AUTH)
    status, headers, body = gateway.request(
        "GET", f"{BASE}?limit=7&sort=name&cursor={urllib.parse.quote(page['next_cursor'])}",
        headers=AUTH)
    assert_problem(status, headers, body, 422, "invalid")  # a cursor of another sort
    status, headers, body = gateway.request(
        "GET", f"{BASE}?sort=size&created_after=soon&grade=Z", headers=AUTH)
    assert_problem(status, headers, body, 422, "invalid")
    assert {e["field"] for e in json.loads(body)["errors"]} == {"sort", "created_after", "grade"}


def test_upsert_ndjson_duplicates_and_cap(gateway):
    rows = [row(i) for i in range(5)]
    text, _ = make_csv(rows)
    status, _, report = post_import(gateway, text)
    assert report["created"] == 5, report

    # Upsert: matched by tax id (a change), by e-mail (no change: skipped), one new.
    changed = {**rows[0], "grade": "E", "code": ""}
    same = {**rows[1], "tax_id": "", "code": ""}
    new = row(50)
    text, lines = make_csv([changed, same, new])
    status, _, report = post_import(gateway, text, "?mode=upsert")
    assert status == 200, report
    assert (report["created"], report["updated"], report["skipped"]) == (1, 1, 1), report
    items = list_all(gateway)
    assert len(items) == 6
    assert [c["grade"] for c in items if c["tax_id"] == rows[0]["tax_id"]] == ["E"]

    # NDJSON: one object a line; a bad line is a rejected row with its line number.
    nd = "\n".join([json.dumps({"name": "广州南方贸易", "grade": "B"}, ensure_ascii=False),
                    "{not json", "",
                    json.dumps({"name": "深圳前海科技", "tags": ["新"]}, ensure_ascii=False)])
    status, _, report = post_import(gateway, nd, headers={**AUTH,
                                                          "Content-Type": "application/x-ndjson"})
    assert status == 200 and report["created"] == 2, report
    assert [(r["line"], r["errors"][0]["code"]) for r in report["rejected"]] == [(2, "bad_json")]

    # Bad requests: header, content type, query, size.
    status, headers, body = gateway.request("POST", f"{BASE}/import", b"name,colour\nx,red\n",
                                            CSV_HEADERS)
    assert_problem(status, headers, body, 422, "invalid")
    assert json.loads(body)["errors"][0]["field"] == "colour"
    status, headers, body = gateway.request("POST", f"{BASE}/import", b"{}",
                                            {**AUTH, "Content-Type": "application/json"})
    assert_problem(status, headers, body, 415)
    status, headers, body = gateway.request("POST", f"{BASE}/import?mode=merge", b"name\nx\n",
                                            CSV_HEADERS)
    assert_problem(status, headers, body, 422, "invalid")
    big = ("name\n" + "".join(f"大客户{i}\n" for i in range(400000))).encode()
    assert IMPORT_MAX < len(big) < 2 * IMPORT_MAX
    status, headers, body = gateway.request("POST", f"{BASE}/import?dry_run=true", big,
                                            CSV_HEADERS, timeout=60)
    assert_problem(status, headers, body, 413, "too_large")
    status, headers, body = gateway.request("POST", f"{BASE}/import", b"name\nx\n",
                                            {"Content-Type": "text/csv"})
    assert status == 401

    # Duplicates: two records sharing a mobile (allowed on create) are a pair.
    for name in ["杭州西湖贸易", "宁波东港实业"]:
        status, _, c = gateway.json("POST", BASE, {"name": name, "mobile": "13700000001"},
                                    {**AUTH, "Content-Type": "application/json",
                                     "X-Rapport-Allow-Duplicate": "true"})
        assert status == 201, c
    status, _, dups = gateway.json("GET", f"{BASE}/duplicates", headers=AUTH)
    assert status == 200, dups
    pairs = [({d["a"]["name"], d["b"]["name"]}, d["reasons"]) for d in dups["items"]]
    assert ({"杭州西湖贸易", "宁波东港实业"}, ["phone"]) in pairs, pairs
    status, _, page = gateway.json("GET", f"{BASE}/duplicates?limit=1", headers=AUTH)
    assert status == 200 and len(page["items"]) <= 1

    # Paging through pairs of the longest names: the cursor holds the
    # normalized name, longer than an ordinary query value (256 bytes).
    long_name = "长" * 66  # 198 bytes, near the 200-byte limit
    for suffix in ["甲", "甲", "甲"]:
        status, _, c = gateway.json("POST", BASE, {"name": long_name[:-1] + suffix},
                                    {**AUTH, "Content-Type": "application/json",
                                     "X-Rapport-Allow-Duplicate": "true"})
        assert status == 201, c
    seen, cursor, longest = [], None, 0
    for _ in range(20):
        query = f"?limit=1&cursor={urllib.parse.quote(cursor)}" if cursor else "?limit=1"
        status, _, page = gateway.json("GET", f"{BASE}/duplicates{query}", headers=AUTH)
        assert status == 200, page
        seen += [(d["a"]["id"], d["b"]["id"]) for d in page["items"]
                 if d["a"]["name"].startswith("长长")]
        cursor = page["next_cursor"]
        longest = max(longest, len(cursor or ""))
        if not cursor:
            break
    assert len(set(seen)) == 3, seen  # three records with one name: three pairs
    assert longest > 256, longest


def _vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_import_100k_rows_streams(broker_factory, tmp_path):
    """100,000 rows (about 14 MB) as a dry run: the gateway's peak RSS grows
    by far less than the body, so it never held the file."""
    broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "5000"})
    customers = Customers(broker, tmp_path / "customers0")
    gw = Gateway(broker, tmp_path / "gateway").wait_ready()
    try:
        gw.wait_customers()
        header = "name,mobile,region,tax_id\r\n".encode()
        chunk_rows = 1000

        def chunk(k):
            return "".join(f"流式客户{i:06d}有限公司,138{i:08d},华东,TX{i:08d}\r\n"
                           for i in range(k * chunk_rows, (k + 1) * chunk_rows)).encode()
        size = len(header) + sum(len(chunk(k)) for k in range(100))
        before = _vm_hwm_kib(gw.pid)

        def body():
            yield header
            for k in range(100):
                yield chunk(k)
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=300 * SLOW)
        conn.request("POST", f"{BASE}/import?dry_run=true", body=body(),
                     headers={**CSV_HEADERS, "Content-Length": str(size)})
        resp = conn.getresponse()
        report = json.loads(resp.read())
        conn.close()
        assert resp.status == 200, report
        assert report["created"] == 100000 and report["rejected"] == [], report
        growth = _vm_hwm_kib(gw.pid) - before
        # ASan's allocator and shadow memory blur RSS; the plain build measures.
        if not UNDER_ASAN:
            assert growth * 1024 < size / 3, (growth, size)
    finally:
        assert gw.stop() == 0, gw.log_tail()
        assert customers.stop() == 0, customers.log_tail()


def test_export_client_gone_mid_answer(gateway):
    """A client that hangs up in the middle of an export costs the gateway
    nothing: it goes on serving, and stops cleanly (under ASan: no leak of
    the request libevent leaves to its sender)."""
    rows = [row(i) for i in range(600)]
    status, _, report = post_import(gateway, make_csv(rows)[0])
    assert status == 200 and report["created"] == 600, report
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10 * SLOW)
        conn.request("GET", f"{BASE}/export", headers=AUTH)
        answer = conn.getresponse()
        assert answer.status == 200
        assert answer.read(512)  # the first chunk; the rest is refused
        conn.sock.close()
        conn.close()
    status, _, body = gateway.request("GET", f"{BASE}/export", headers=AUTH)
    assert status == 200 and len(list(csv.DictReader(io.StringIO(body.decode())))) == 600
