"""Issue 3: users, API keys and rate limits through the gateway
(services/gateway/users.c, auth.c, directory.c, ratelimit.c).

Starts the real broker, rapport-users, rapport-customers and two (then
three) rapport-gateway instances, and talks HTTP with http.client only. A
key made through one gateway works there at once and on every other gateway
within a second (each folds the journal's user.* events into its own key
directory); rotated and revoked keys stop as fast; keys reach the journal
only hashed. Teardown asserts every process exits 0 on SIGTERM (under ASan:
no leaks).
"""

import hashlib
import json
import os
import re
import urllib.parse

import pytest

from conftest import SLOW, build_path, wait_until
from process import ServiceProcess
from test_customers import Customers
from test_gateway import ADMIN_KEY, AUTH, JSON, Gateway, assert_problem

USERS_BINARY = build_path("bin", "rapport-users")
USERS = "/api/v1/users"
CUSTOMERS = "/api/v1/customers"
KEY_RE = re.compile(r"^rpk_[0-9a-f]{64}$")
RECORD_KEYS = {"id", "name", "email", "role", "team", "manager_id", "active", "version",
               "created_at", "updated_at"}


class Users(ServiceProcess):
    def __init__(self, broker, path):
        super().__init__("users", USERS_BINARY, broker, path)


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


class Stack:
    def __init__(self, broker_factory, tmp_path, customers=True, gateways=2, env=None):
        if not os.access(USERS_BINARY, os.X_OK):
            pytest.fail(f"{USERS_BINARY} is not built (run make build)")
        self.tmp_path = tmp_path
        self.env = env
        self.broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})
        self.procs = [Users(self.broker, tmp_path / "users0")]
        if customers:
            self.procs.append(Customers(self.broker, tmp_path / "customers0"))
        self.gateways = [self.gateway() for _ in range(gateways)]
        gw = self.gateways[0]
        wait_until(lambda: gw.request("GET", USERS, headers=AUTH)[0] == 200, 15 * SLOW,
                   interval=0.05, what="users through the gateway")
        if customers:
            gw.wait_customers()

    def gateway(self):
        n = sum(1 for p in self.procs if p.name == "gateway")
        gw = Gateway(self.broker, self.tmp_path / f"gateway{n}", self.env)
        self.procs.append(gw)
        return gw.wait_ready()

    def stop(self):
        failures = []
        for p in reversed(self.procs):
            code = p.stop()
            if code != 0:
                failures.append(f"{p.name} exited with {code} on SIGTERM\n" + p.log_tail())
        assert not failures, "\n".join(failures)


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path)
    yield s
    s.stop()


def create_user(gw, **fields):
    status, headers, body = gw.json("POST", USERS, fields, {**AUTH, **JSON})
    assert status == 201, body
    assert KEY_RE.match(body["api_key"]), body
    assert set(body) == RECORD_KEYS | {"api_key"}, body
    assert body["active"] is True and body["version"] == 1
    assert headers["location"] == f"{USERS}/{urllib.parse.quote(body['id'], safe='')}"
    assert headers["etag"] == '"1"' and headers["cache-control"] == "no-store"
    assert int(headers["x-rapport-seq"]) > 0
    return body


def me(gw, key):
    return gw.json("GET", f"{USERS}/me", headers=bearer(key))


def works_on_all(stack, key, user_id, first):
    """The key works at once on the gateway that made it, on the others within 1 s."""
    status, _, body = me(first, key)
    assert status == 200 and body["id"] == user_id, body
    for gw in stack.gateways:
        wait_until(lambda: me(gw, key)[0] == 200, 1.0 * SLOW, interval=0.01,
                   what=f"key of {user_id} on gateway :{gw.port}")


def refused_on_all(stack, key, first):
    status, headers, body = first.request("GET", f"{USERS}/me", headers=bearer(key))
    assert_problem(status, headers, body, 401, "unauthorized")
    for gw in stack.gateways:
        wait_until(lambda: gw.request("GET", f"{USERS}/me", headers=bearer(key))[0] == 401,
                   1.0 * SLOW, interval=0.01, what=f"key refused on gateway :{gw.port}")


def test_team_story_keys_scoping_rotation_revocation(stack):
    gw_a, gw_b = stack.gateways
    mgr = create_user(gw_a, name="李经理", email="li.manager@example.cn", role="manager",
                      team="east")
    works_on_all(stack, mgr["api_key"], mgr["id"], gw_a)
    # Made through the second gateway this time: every gateway knows every key.
    sales_a = create_user(gw_b, name="王芳", email="Wang.Fang@Example.CN", role="sales",
                          team="east", manager_id=mgr["id"])
    assert sales_a["email"] == "wang.fang@example.cn" and sales_a["manager_id"] == mgr["id"]
    works_on_all(stack, sales_a["api_key"], sales_a["id"], gw_b)
    sales_b = create_user(gw_a, name="张伟", email="zhang.wei@example.cn", role="sales",
                          team="east", manager_id=mgr["id"])
    works_on_all(stack, sales_b["api_key"], sales_b["id"], gw_a)
    ro = create_user(gw_a, name="赵敏", email="zhao@example.cn", role="readonly", team="east")
    integ = create_user(gw_a, name="ERP", email="erp@example.cn", role="integrator",
                        team="east")
    works_on_all(stack, integ["api_key"], integ["id"], gw_a)
    keys = [u["api_key"] for u in (mgr, sales_a, sales_b, ro, integ)]

    # /me: the caller's own record, never a key.
    status, headers, body = me(gw_b, sales_a["api_key"])
    assert body["role"] == "sales" and body["team"] == "east" and "api_key" not in body
    assert headers["etag"] == '"1"'
    status, _, body = me(gw_a, ADMIN_KEY)
    assert status == 200 and body["id"] == "admin" and body["role"] == "admin"

    # Sales A's customers: invisible to sales B (404), visible to the manager
    # and to readonly of the team, who cannot change them.
    status, _, c = gw_a.json("POST", CUSTOMERS, {"name": "上海星辰贸易有限公司",
                                                 "address": "上海市浦东新区世纪大道100号"},
                             {**bearer(sales_a["api_key"]), **JSON})
    assert status == 201 and c["owner"] == sales_a["id"] and c["team"] == "east", c
    path = f"{CUSTOMERS}/{c['id']}"
    status, headers, body = gw_b.request("GET", path, headers=bearer(sales_b["api_key"]))
    assert_problem(status, headers, body, 404, "not_found")
    status, _, page = gw_b.json("GET", CUSTOMERS, headers=bearer(sales_b["api_key"]))
    assert status == 200 and page["items"] == [], page
    for key in (mgr["api_key"], ro["api_key"], sales_a["api_key"]):
        status, _, got = gw_b.json("GET", path, headers=bearer(key))
        assert status == 200 and got["id"] == c["id"], got
    status, _, page = gw_a.json("GET", CUSTOMERS, headers=bearer(mgr["api_key"]))
    assert [i["id"] for i in page["items"]] == [c["id"]]
    status, headers, body = gw_a.request("PATCH", path, b'{"grade": "A"}',
                                         {**bearer(ro["api_key"]), **JSON})
    assert_problem(status, headers, body, 403, "forbidden")
    status, headers, body = gw_a.request("POST", CUSTOMERS, b'{"name": "x"}',
                                         {**bearer(ro["api_key"]), **JSON})
    assert_problem(status, headers, body, 403, "forbidden")
    # Integrators get nothing from customers.
    status, headers, body = gw_a.request("GET", path, headers=bearer(integ["api_key"]))
    assert_problem(status, headers, body, 404)
    status, headers, body = gw_a.request("GET", CUSTOMERS, headers=bearer(integ["api_key"]))
    assert_problem(status, headers, body, 403, "forbidden")

    # Only admins write users.
    status, headers, body = gw_a.request(
        "POST", USERS, json.dumps({"name": "x", "email": "x@example.cn", "role": "admin"}).encode(),
        {**bearer(mgr["api_key"]), **JSON})
    assert_problem(status, headers, body, 403, "forbidden")

    # A team change reaches every gateway's directory: readonly moved to
    # "west" no longer sees the east customer.
    upath = f"{USERS}/{ro['id']}"
    status, headers, body = gw_a.request("PATCH", upath, b'{"team": "west"}',
                                         {**AUTH, **JSON, "If-Match": '"9"'})
    assert_problem(status, headers, body, 412, "version_mismatch")
    status, headers, body = gw_a.json("PATCH", upath, {"team": "west"},
                                      {**AUTH, **JSON, "If-Match": '"1"'})
    assert status == 200 and body["team"] == "west" and body["version"] == 2, body
    assert headers["etag"] == '"2"' and int(headers["x-rapport-seq"]) > 0
    status, _, body = me(gw_a, ro["api_key"])
    assert body["team"] == "west"
    wait_until(lambda: gw_b.request("GET", path, headers=bearer(ro["api_key"]))[0] == 404,
               1.0 * SLOW, interval=0.01, what="team change on the second gateway")

    # Rotation: the old key stops everywhere, the new one works everywhere.
    status, headers, rotated = gw_b.json("POST", f"{USERS}/{sales_a['id']}/key", headers=AUTH)
    assert status == 200 and KEY_RE.match(rotated["api_key"]), rotated
    assert rotated["api_key"] != sales_a["api_key"] and rotated["id"] == sales_a["id"]
    assert headers["cache-control"] == "no-store"
    refused_on_all(stack, sales_a["api_key"], gw_b)
    works_on_all(stack, rotated["api_key"], sales_a["id"], gw_b)
    keys.append(rotated["api_key"])
    # The rotated key is the same user: their customer is still theirs.
    status, _, got = gw_a.json("GET", path, headers=bearer(rotated["api_key"]))
    assert status == 200 and got["id"] == c["id"]

    # Revocation: If-Match honoured, then the key is refused everywhere.
    bpath = f"{USERS}/{sales_b['id']}"
    status, headers, body = gw_a.request("DELETE", bpath, headers={**AUTH, "If-Match": '"5"'})
    assert_problem(status, headers, body, 412, "version_mismatch")
    status, headers, body = gw_a.json("DELETE", bpath, headers={**AUTH, "If-Match": '"1"'})
    assert status == 200 and body["active"] is False and "api_key" not in body, body
    refused_on_all(stack, sales_b["api_key"], gw_a)
    status, _, body = gw_b.json("GET", bpath, headers=AUTH)
    assert status == 200 and body["active"] is False

    # A gateway started now learns every key from the journal's replay.
    gw_c = stack.gateway()
    stack.gateways.append(gw_c)
    assert me(gw_c, rotated["api_key"])[0] == 200
    assert me(gw_c, mgr["api_key"])[0] == 200
    for key in (sales_a["api_key"], sales_b["api_key"]):
        assert gw_c.request("GET", f"{USERS}/me", headers=bearer(key))[0] == 401

    # Lists: admin sees every active user; revoked ones on request.
    status, _, page = gw_c.json("GET", f"{USERS}?limit=200", headers=AUTH)
    ids = {u["id"] for u in page["items"]}
    assert status == 200 and sales_b["id"] not in ids and mgr["id"] in ids, page
    assert all("api_key" not in u for u in page["items"])
    status, _, page = gw_c.json("GET", f"{USERS}?include_revoked=true&role=sales", headers=AUTH)
    assert {u["id"] for u in page["items"]} == {sales_a["id"], sales_b["id"]}, page

    # Keys reach the journal hashed, never in clear.
    with stack.broker.client() as client:
        events, seq = [], 1
        while True:
            reply = client.call("journal", "journal.read", {"from_seq": seq, "max": 1000})
            assert reply["status"] == 200, reply
            page = reply["data"]["events"]
            if not page:
                break
            events += page
            seq = page[-1]["seq"] + 1
    raw = json.dumps(events, ensure_ascii=False, default=repr)
    for key in keys:
        assert key not in raw and key[4:] not in raw
    hashes = [e["data"]["key_hash"] for e in events
              if e["type"] in ("user.created", "user.key_rotated")]
    for key in keys:
        assert hashlib.sha256(key.encode()).hexdigest() in hashes


def test_validation_and_errors(stack):
    gw = stack.gateways[0]
    for body, expected in (
            ({"name": "x", "email": "x@example.cn"}, {("role", "required")}),
            ({"name": 7, "email": "x@example.cn", "role": "boss", "colour": "red", "version": 2},
             {("name", "type"), ("role", "invalid"), ("colour", "unknown"),
              ("version", "read_only")}),
            ({"name": "x", "email": "x@example.cn", "role": "sales", "team": 5,
              "manager_id": []}, {("team", "type"), ("manager_id", "type")})):
        status, headers, raw = gw.request("POST", USERS, json.dumps(body).encode(),
                                          {**AUTH, **JSON})
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert {(e["field"], e["code"]) for e in problem["errors"]} == expected, problem
    # Values the gateway passes on are checked by the service: 422 too.
    status, headers, raw = gw.request(
        "POST", USERS, b'{"name": "x", "email": "not-an-email", "role": "sales"}',
        {**AUTH, **JSON})
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert problem["errors"][0]["field"] == "email"
    status, headers, raw = gw.request("POST", USERS, b"{nope", {**AUTH, **JSON})
    assert_problem(status, headers, raw, 400, "bad_json")
    status, headers, raw = gw.request("POST", USERS, b"{}", AUTH)
    assert_problem(status, headers, raw, 415)

    u = create_user(gw, name="Rui", email="rui@example.cn", role="sales", team="east")
    path = f"{USERS}/{u['id']}"
    status, headers, raw = gw.request("PATCH", path, b'{"api_key": "rpk_x", "active": true}',
                                      {**AUTH, **JSON})
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {("api_key", "unknown"),
                                                                     ("active", "read_only")}
    status, headers, raw = gw.request("PATCH", path, b'{"role": "sales"}',
                                      {**AUTH, **JSON, "If-Match": 'W/"1"'})
    assert_problem(status, headers, raw, 400, "bad_if_match")
    for method, p in (("GET", f"{USERS}/nope"), ("PATCH", f"{USERS}/nope"),
                      ("POST", f"{USERS}/nope/key")):
        status, headers, raw = gw.request(method, p, b"{}" if method == "PATCH" else None,
                                          {**AUTH, **JSON})
        assert_problem(status, headers, raw, 404, "not_found")
    for query, field in (("limit=0", "limit"), ("limit=201", "limit"), ("role=boss", "role"),
                         ("include_revoked=yes", "include_revoked")):
        status, headers, raw = gw.request("GET", f"{USERS}?{query}", headers=AUTH)
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert problem["errors"][0]["field"] == field
    status, headers, raw = gw.request("GET", f"{USERS}?colour=red", headers=AUTH)
    assert_problem(status, headers, raw, 400, "bad_query")
    status, headers, raw = gw.request("PUT", path, b"{}", {**AUTH, **JSON})
    assert_problem(status, headers, raw, 405)
    assert headers["allow"] == "GET, HEAD, PATCH, DELETE"
    status, headers, raw = gw.request("GET", f"{path}/key", headers=AUTH)
    assert_problem(status, headers, raw, 405)
    assert headers["allow"] == "POST"
    # Keys that look right but are nobody's, and malformed ones: 401.
    for auth in ("Bearer rpk_" + "0" * 64, "Bearer " + u["api_key"].upper(),
                 "Bearer " + u["api_key"] + "0", "Basic " + u["api_key"],
                 "Bearer " + "k" * 5000):
        status, headers, raw = gw.request("GET", f"{USERS}/me", headers={"Authorization": auth})
        assert_problem(status, headers, raw, 401, "unauthorized")
    # An idempotent retry of a create answers the same user, without a new key.
    idem = {"Idempotency-Key": "create-rui-2"}
    body = {"name": "Rui 2", "email": "rui2@example.cn", "role": "readonly"}
    s1, _, first = gw.json("POST", USERS, body, {**AUTH, **JSON, **idem})
    s2, _, again = gw.json("POST", USERS, body, {**AUTH, **JSON, **idem})
    assert s1 == 201 and s2 == 201 and again["id"] == first["id"], (first, again)
    assert again.get("api_key") in (None, first["api_key"])


@pytest.fixture
def slow_stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1,
              env={"RAPPORT_RATE_PER_S": "1", "RAPPORT_RATE_BURST": "3"})
    yield s
    s.stop()


def test_rate_limit_per_key(slow_stack):
    gw = slow_stack.gateways[0]
    u = create_user(gw, name="Busy", email="busy@example.cn", role="sales", team="east")
    v = create_user(gw, name="Calm", email="calm@example.cn", role="sales", team="east")
    # A burst of 3 passes; then, at 1 token a second, a 429 comes at once
    # (within a few more requests even on a slow machine).
    statuses = [me(gw, u["api_key"])[0] for _ in range(3)]
    assert statuses == [200, 200, 200], statuses
    for _ in range(8):
        status, headers, raw = gw.request("GET", f"{USERS}/me", headers=bearer(u["api_key"]))
        if status != 200:
            break
    assert_problem(status, headers, raw, 429, "rate_limited")
    assert headers["retry-after"] == "1"
    # Buckets are per key: another key, the bootstrap admin key and the
    # operations routes are not held back.
    assert me(gw, v["api_key"])[0] == 200
    for _ in range(10):
        assert gw.request("GET", USERS, headers=AUTH)[0] == 200
        assert gw.request("GET", "/health")[0] == 200
    assert gw.request("GET", "/metrics")[0] == 200
    # After Retry-After the key works again.
    wait_until(lambda: me(gw, u["api_key"])[0] == 200, 3 * SLOW, interval=0.25,
               what="a token after Retry-After")
