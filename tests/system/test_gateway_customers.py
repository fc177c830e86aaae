"""Issue 3: the customers routes of the gateway (services/gateway/customers.c).

Starts the real broker, one rapport-customers instance and rapport-gateway,
and talks HTTP with http.client only: /api/v1/customers maps onto the ops of
docs/customers.md (HTTP reference: docs/api.md). Teardown asserts that every
process exits 0 on SIGTERM (under ASan: no leaks).
"""

import json
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from test_customers import Customers
from test_gateway import AUTH, JSON, Gateway, assert_problem

BASE = "/api/v1/customers"
NAME = "上海星辰贸易有限公司"
ADDRESS = "上海市浦东新区世纪大道100号 环球金融中心 21楼"


@pytest.fixture
def gateway(broker_factory, tmp_path):
    """A gateway in front of one customers instance, both serving."""
    broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})
    customers = Customers(broker, tmp_path / "customers0")
    gw = Gateway(broker, tmp_path / "gateway").wait_ready()
    gw.wait_customers()
    yield gw
    gw_code = gw.stop()
    c_code = customers.stop()
    assert gw_code == 0, f"gateway exited with {gw_code} on SIGTERM\n" + gw.log_tail()
    assert c_code == 0, f"customers exited with {c_code} on SIGTERM\n" + customers.log_tail()


def post(gw, path, body, **headers):
    return gw.json("POST", path, body, {**AUTH, **JSON, **headers})


def seq_of(headers):
    assert "x-rapport-seq" in headers, headers
    return int(headers["x-rapport-seq"])


def test_create_get_patch_with_etags(gateway):
    status, headers, raw = gateway.request(
        "POST", BASE, json.dumps({"name": NAME, "address": ADDRESS, "mobile": "13800138000",
                                  "tax_id": "91310000MA1FL0001X"}, ensure_ascii=False).encode(),
        {**AUTH, **JSON})
    assert status == 201, raw
    # Byte for byte: the UTF-8 we sent is in the body as is, not \u-escaped.
    assert NAME.encode() in raw and ADDRESS.encode() in raw
    c = json.loads(raw)
    assert c["name"] == NAME and c["address"] == ADDRESS and c["mobile"] == "+8613800138000"
    assert c["owner"] == "admin" and c["version"] == 1
    assert headers["location"] == f"{BASE}/{urllib.parse.quote(c['id'], safe='')}"
    assert headers["etag"] == '"1"' and seq_of(headers) >= 1

    status, headers, raw = gateway.request("GET", headers["location"], headers=AUTH)
    assert status == 200 and headers["etag"] == '"1"'
    assert json.loads(raw) == c and NAME.encode() in raw

    path = f"{BASE}/{c['id']}"
    hdrs = {**AUTH, **JSON}
    status, headers, u = gateway.json("PATCH", path, {"grade": "B"}, {**hdrs, "If-Match": '"1"'})
    assert status == 200 and u["grade"] == "B" and u["version"] == 2, u
    assert headers["etag"] == '"2"' and seq_of(headers) > 0
    status, headers, body = gateway.request("PATCH", path, b'{"grade": "C"}',
                                            {**hdrs, "If-Match": '"1"'})
    assert_problem(status, headers, body, 412, "version_mismatch")
    status, headers, body = gateway.request("PATCH", path, b'{"grade": "C"}',
                                            {**hdrs, "If-Match": "W/\"2\""})
    assert_problem(status, headers, body, 400, "bad_if_match")
    # Without If-Match the change is unconditional; the path names the record, not the body.
    status, headers, u = gateway.json("PATCH", path, {"grade": "C", "id": "other", "version": 9},
                                      hdrs)
    assert status == 200 and u["grade"] == "C" and u["id"] == c["id"] and u["version"] == 3, u
    status, headers, body = gateway.request("GET", f"{BASE}/nope", headers=AUTH)
    assert_problem(status, headers, body, 404, "not_found")
    status, headers, body = gateway.request("PUT", path, b"{}", hdrs)
    assert_problem(status, headers, body, 405)
    assert headers["allow"] == "GET, HEAD, PATCH, DELETE"
    status, headers, body = gateway.request("GET", path)
    assert_problem(status, headers, body, 401, "unauthorized")


def test_validation_and_duplicates(gateway):
    status, headers, body = gateway.request(
        "POST", BASE, json.dumps({"name": "", "email": "not-an-email", "grade": "F"}).encode(),
        {**AUTH, **JSON})
    problem = assert_problem(status, headers, body, 422, "invalid")
    fields = {(e["field"], e["code"]) for e in problem["errors"]}
    assert fields == {("name", "required"), ("email", "invalid"), ("grade", "invalid")}, problem
    assert all(e["message"] for e in problem["errors"])
    status, headers, body = gateway.request("POST", BASE, b"{nope", {**AUTH, **JSON})
    assert_problem(status, headers, body, 400, "bad_json")
    status, headers, body = gateway.request("POST", BASE, b"name=x",
                                            {**AUTH, "Content-Type": "text/plain"})
    assert_problem(status, headers, body, 415)

    status, _, c = post(gateway, BASE, {"name": "杭州云帆科技", "tax_id": "T-1"})
    assert status == 201, c
    status, headers, body = gateway.request(
        "POST", BASE, json.dumps({"name": "另一家公司", "tax_id": "T-1"}).encode(),
        {**AUTH, **JSON})
    problem = assert_problem(status, headers, body, 409, "duplicate")
    assert problem["fields"] == ["tax_id"] and problem["matches"] == [c["id"]], problem

    # A likely duplicate (same normalized name) is a 409 unless the header allows it;
    # a body field cannot allow it.
    status, headers, body = gateway.request(
        "POST", BASE, json.dumps({"name": "杭州 云帆科技", "allow_duplicate": True}).encode(),
        {**AUTH, **JSON})
    problem = assert_problem(status, headers, body, 409, "possible_duplicate")
    assert problem["fields"] == ["name"] and problem["matches"] == [c["id"]], problem
    status, _, forced = post(gateway, BASE, {"name": "杭州 云帆科技"},
                             **{"X-Rapport-Allow-Duplicate": "true"})
    assert status == 201 and "allow_duplicate" not in forced, forced
    status, headers, body = gateway.request("POST", BASE, b'{"name": "x"}',
                                            {**AUTH, **JSON, "X-Rapport-Allow-Duplicate": "yes"})
    assert_problem(status, headers, body, 400, "bad_header")


def test_list_query_and_pagination(gateway):
    names = ["北京东方电子", "北京华夏物流", "上海浦江食品", "北京长城建材", "深圳南山科技"]
    ids = []
    for i, name in enumerate(names):
        status, headers, c = post(gateway, BASE, {"name": name, "grade": "A" if i % 2 else "B"})
        assert status == 201, c
        ids.append(c["id"])
    last_seq = seq_of(headers)

    q = urllib.parse.quote("北京")
    seen, cursor, pages = [], None, 0
    while True:
        path = f"{BASE}?q={q}&limit=2" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, headers, page = gateway.json("GET", path, headers=AUTH)
        assert status == 200 and set(page) == {"items", "next_cursor"}, page
        assert len(page["items"]) <= 2
        seen += [item["name"] for item in page["items"]]
        cursor, pages = page["next_cursor"], pages + 1
        if not cursor:
            break
        assert pages < 10
    assert seen == ["北京东方电子", "北京华夏物流", "北京长城建材"] and pages >= 2, seen

    status, _, page = gateway.json("GET", f"{BASE}?grade=A&q=%E5%8C%97%E4%BA%AC", headers=AUTH)
    assert status == 200 and [i["name"] for i in page["items"]] == ["北京华夏物流", "北京长城建材"]
    status, _, page = gateway.json("GET", f"{BASE}?owner=admin&limit=200", headers=AUTH)
    assert status == 200 and [i["id"] for i in page["items"]] == ids
    assert page["next_cursor"] is None

    for query, code in [("limit=0", "invalid"), ("limit=201", "invalid"), ("limit=x", "invalid"),
                        ("archived=maybe", "invalid"), ("colour=red", "bad_query"),
                        ("q=a&q=b", "bad_query"), ("q=%FF", "bad_query"), ("q=%00", "bad_query"),
                        ("q=" + "a" * 257, "bad_query")]:
        status, headers, body = gateway.request("GET", f"{BASE}?{query}", headers=AUTH)
        expected = 422 if code == "invalid" else 400
        problem = assert_problem(status, headers, body, expected, code)
        if expected == 422:
            assert problem["errors"][0]["field"] in ("limit", "archived"), problem
    assert last_seq > 0


def test_archive_restore_and_if_match(gateway):
    status, headers, c = post(gateway, BASE, {"name": "苏州明远"})
    assert status == 201
    path = f"{BASE}/{c['id']}"
    status, headers, body = gateway.request("DELETE", path, headers={**AUTH, "If-Match": '"9"'})
    assert_problem(status, headers, body, 412, "version_mismatch")
    status, headers, a = gateway.json("DELETE", path, headers={**AUTH, "If-Match": '"1"'})
    assert status == 200 and a["archived"] is True and a["version"] == 2, a
    assert headers["etag"] == '"2"' and seq_of(headers) > 0
    status, _, page = gateway.json("GET", BASE, headers=AUTH)
    assert c["id"] not in [i["id"] for i in page["items"]]
    status, _, page = gateway.json("GET", f"{BASE}?archived=true", headers=AUTH)
    assert [i["id"] for i in page["items"]] == [c["id"]]

    status, headers, r = gateway.json("POST", f"{path}/restore", headers=AUTH)
    assert status == 200 and r["archived"] is False and r["version"] == 3, r
    assert seq_of(headers) > 0
    status, _, page = gateway.json("GET", BASE, headers=AUTH)
    assert c["id"] in [i["id"] for i in page["items"]]
    status, headers, body = gateway.request("GET", f"{path}/restore", headers=AUTH)
    assert_problem(status, headers, body, 405)
    assert headers["allow"] == "POST"
    status, headers, body = gateway.request("POST", f"{BASE}/nope/restore", headers=AUTH)
    assert_problem(status, headers, body, 404, "not_found")
    status, headers, body = gateway.request("DELETE", path, headers=AUTH)  # unconditional
    assert status == 200 and json.loads(body)["archived"] is True


def test_concurrent_writes_with_and_without_keys(gateway):
    """Writes that arrive together share journal appends, a part per write
    (libshared append.h): each still gets its own seq and answer, and a key
    still gets its first answer back when the retries come together too."""
    def create(i, keyed):
        headers = {"Idempotency-Key": f"together-{i}"} if keyed else {}
        return post(gateway, BASE, {"name": f"并发{i}号", "mobile": f"1390000{i:04d}"}, **headers)

    with ThreadPoolExecutor(24) as pool:
        first = list(pool.map(lambda i: create(i, i % 2 == 0), range(48)))
    assert [s for s, _, _ in first] == [201] * 48, [b for s, _, b in first if s != 201][:2]
    seqs = [seq_of(h) for _, h, _ in first]
    assert len(set(seqs)) == 48 and len({c["id"] for _, _, c in first}) == 48
    assert [c["name"] for _, _, c in first] == [f"并发{i}号" for i in range(48)]
    keyed = list(range(0, 48, 2))
    with ThreadPoolExecutor(24) as pool:
        again = list(pool.map(lambda i: create(i, True), keyed))
    for i, (status, headers, c) in zip(keyed, again):
        assert status == 201 and c["id"] == first[i][2]["id"] and seq_of(headers) == seqs[i]
    status, _, page = gateway.json("GET", f"{BASE}?q={urllib.parse.quote('并发')}&limit=200",
                                   headers=AUTH)
    assert status == 200 and len(page["items"]) == 48, page


def test_idempotency_key_and_read_your_writes(gateway):
    key = {"Idempotency-Key": "create-寰宇".encode().hex()}
    first = post(gateway, BASE, {"name": "寰宇航运"}, **key)
    again = post(gateway, BASE, {"name": "寰宇航运"}, **key)
    assert first[0] == 201 and again[0] == 201, (first, again)
    assert again[2]["id"] == first[2]["id"]
    assert seq_of(again[1]) == seq_of(first[1])
    status, _, page = gateway.json("GET", f"{BASE}?q={urllib.parse.quote('寰宇')}", headers=AUTH)
    assert [i["id"] for i in page["items"]] == [first[2]["id"]], page

    # Every write is visible on the very next read: the gateway sends the
    # caller's last seq as min_seq.
    for i in range(20):
        status, headers, c = post(gateway, BASE, {"name": f"客户{i}号"})
        assert status == 201
        seq_of(headers)
        status, _, got = gateway.json("GET", f"{BASE}/{c['id']}", headers=AUTH)
        assert status == 200 and got == c
        status, headers, u = gateway.json("PATCH", f"{BASE}/{c['id']}", {"grade": "A"},
                                          {**AUTH, **JSON})
        assert status == 200 and seq_of(headers) > 0
        status, _, page = gateway.json("GET", f"{BASE}?grade=A&limit=200", headers=AUTH)
        assert c["id"] in [item["id"] for item in page["items"]]
    status, headers, body = gateway.request("POST", BASE, b'{"name": "x"}',
                                            {**AUTH, **JSON, "Idempotency-Key": "bad key"})
    assert_problem(status, headers, body, 400, "bad_idempotency_key")
