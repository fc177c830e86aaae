"""Issue 3: GET /openapi.json — the OpenAPI 3.1 document (docs/openapi.json,
embedded in the gateway at build time) — and every request example in it,
sent to a live gateway in front of the real broker, users and customers:
each must be accepted (2xx), and every JSON answer
must match the schema documented for its status (python3-jsonschema,
draft 2020-12, as OpenAPI 3.1 uses); request examples must match theirs.

Example ids are the document's `x-rapport-example-ids`: the test creates a
real record for each and puts its id wherever the sentinel appears (path,
query, body). Operations run in document order, DELETEs last (deepest path
first), so a route's example never depends on one that destroys its record.
(tests/unit/test_gateway_openapi.c checks the other half: every route of
the gateway's routing table is in the document.)
"""

import json
import os
import time
import urllib.parse

import jsonschema
import pytest

from conftest import ROOT, SLOW, wait_until
from test_customers import Customers
from test_gateway import AUTH, JSON, Gateway
from test_gateway_users import Users
from test_opportunities_list import Opportunities
from test_notifications import Notifications
from test_reminders import Reminders

DOC_PATH = os.path.join(ROOT, "docs", "openapi.json")
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def live(broker_factory, tmp_path):
    broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})
    procs = [Users(broker, tmp_path / "users"), Customers(broker, tmp_path / "customers"),
             Opportunities(broker, tmp_path / "opportunities"),
             Reminders(broker, tmp_path / "reminders"),
             Notifications(broker, tmp_path / "notifications")]
    gw = Gateway(broker, tmp_path / "gateway")
    procs.append(gw)
    gw.wait_ready()
    for path in ("/api/v1/users", "/api/v1/customers", "/api/v1/opportunities",
                 "/api/v1/reminders", "/api/v1/notifications"):
        wait_until(lambda: gw.request("GET", path, headers=AUTH)[0] == 200, 15 * SLOW,
                   interval=0.05, what=f"{path} through the gateway")
    with broker.client() as client:
        wait_until(lambda: all(client.status()["leases"].get(s, {}).get("holder")
                               for s in ("users", "customers", "opportunities", "reminders",
                                         "notifications")),
                   15 * SLOW, interval=0.05, what="every writer lease held")
    yield gw
    failures = []
    for p in reversed(procs):
        code = p.stop()
        if code != 0:
            failures.append(f"{p.name} exited with {code} on SIGTERM\n" + p.log_tail())
    assert not failures, "\n".join(failures)


def post(gw, path, body):
    status, _, answer = gw.json("POST", path, body, {**AUTH, **JSON})
    assert status == 201, (path, answer)
    return answer["id"]


def seed(gw):
    """A real record for every example id of the document."""
    ids = {}
    ids["manager"] = post(gw, "/api/v1/users", {"name": "种子经理", "email": "seed.manager@example.cn",
                                                "role": "manager", "team": "east"})
    ids["user"] = post(gw, "/api/v1/users", {"name": "种子销售", "email": "seed.sales@example.cn",
                                             "role": "sales", "team": "east",
                                             "manager_id": ids["manager"]})
    ids["customer"] = post(gw, "/api/v1/customers", {"name": "种子客户甲有限公司"})
    ids["customer_archived"] = post(gw, "/api/v1/customers", {"name": "种子客户乙有限公司"})
    status, _, body = gw.json("DELETE", f"/api/v1/customers/{ids['customer_archived']}",
                              headers=AUTH)
    assert status == 200 and body["archived"] is True, body
    ids["customer_merged"] = post(gw, "/api/v1/customers", {"name": "种子客户丙有限公司"})
    ids["contact"] = post(gw, f"/api/v1/customers/{ids['customer']}/contacts", {"name": "种子联系人"})
    ids["pipeline"] = post(gw, "/api/v1/pipelines", {
        "name": "种子流程", "stages": [{"key": "lead", "name": "线索", "kind": "open"},
                                   {"key": "contract", "name": "合同", "kind": "open"},
                                   {"key": "won", "name": "成交", "kind": "won"},
                                   {"key": "lost", "name": "输单", "kind": "lost"}]})
    ids["opportunity"] = post(gw, "/api/v1/opportunities", {
        "customer_id": ids["customer"], "title": "种子商机", "pipeline_id": ids["pipeline"],
        "amount": 1000})
    ids["reminder"] = post(gw, "/api/v1/reminders", {"subject": "种子提醒",
                                                     "due_at": "2027-01-11T09:30:00+08:00"})
    ids["reminder_spare"] = post(gw, "/api/v1/reminders", {"subject": "种子取消",
                                                           "due_at": "2027-01-12T09:30:00+08:00"})
    ids["rule"] = post(gw, "/api/v1/rules", {"name": "种子规则",
                                             "condition": {"type": "idle", "duration": "P3D"}})
    # The admin's own reminder due now: its firing is the admin's entry.
    due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    post(gw, "/api/v1/reminders", {"subject": "种子通知", "due_at": due})

    def entry():
        status, _, page = gw.json("GET", "/api/v1/notifications", headers=AUTH)
        return status == 200 and page["items"] and page["items"][0]["id"]
    ids["notification"] = wait_until(entry, 15 * SLOW, interval=0.1, what="the seed's entry")
    # An integrator's order naming nobody: the unmatched queue's entry.
    status, _, answer = gw.json("POST", "/api/v1/events", {
        "type": "order.placed", "id": "seed-unmatched", "source": "seed",
        "data": {"order_no": "SEED-1", "customer": {"code": "NOBODY"}, "amount": 10,
                 "currency": "CNY", "quantity": 1, "product": "种子",
                 "placed_at": "2026-11-23T08:00:00Z"}}, {**AUTH, **JSON})
    assert status == 202, answer
    status, _, queue = gw.json("GET", "/api/v1/events/unmatched", headers=AUTH)
    assert status == 200 and len(queue["items"]) == 1, queue
    ids["unmatched"] = queue["items"][0]["id"]
    return ids


def substitute(value, ids):
    """value with every example id replaced by the real one."""
    if isinstance(value, str):
        for sentinel, real in ids.items():
            value = value.replace(sentinel, real)
        return value
    if isinstance(value, list):
        return [substitute(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, ids) for k, v in value.items()}
    return value


def resolve(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def requests_of(doc):
    """(method, path template, path params, query, headers, body, content type) per example."""
    ops = []
    for template, item in doc["paths"].items():
        shared = [resolve(doc, p) for p in item.get("parameters", [])]
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            params = {(p["in"], p["name"]): p for p in shared}
            params.update({(p["in"], p["name"]): p
                           for p in (resolve(doc, p) for p in op.get("parameters", []))})
            body, content_type = None, None
            if "requestBody" in op:
                content_type, media = next(iter(resolve(doc, op["requestBody"])["content"].items()))
                assert "example" in media, f"{method} {template}: no request body example"
                body = media["example"]
            ops.append((method, template, params, body, content_type, op["responses"]))
    # DELETEs last, the deepest path first (a contact before its customer).
    ops.sort(key=lambda o: (o[0] == "delete", -o[1].count("/") if o[0] == "delete" else 0))
    return ops


def jsonschema_error(doc, schema, value):
    """Why value does not match schema (a $ref into the document), or None."""
    validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    return f"{error.message} at {list(error.absolute_path)}" if error else None


def test_request_examples_match_their_schemas():
    with open(DOC_PATH, encoding="utf-8") as f:
        doc = json.load(f)
    failures = []
    for template, item in doc["paths"].items():
        for method in METHODS:
            body = resolve(doc, item.get(method, {}).get("requestBody", {}))
            media = body.get("content", {}).get("application/json")
            if media:
                error = jsonschema_error(doc, media["schema"], media["example"])
                if error:
                    failures.append(f"{method} {template}: {error}")
    assert not failures, "\n".join(failures)


def test_openapi_document_is_served(live):
    status, headers, raw = live.request("GET", "/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    with open(DOC_PATH, "rb") as f:
        assert raw == f.read(), "the gateway serves another document than docs/openapi.json"
    doc = json.loads(raw)
    assert doc["openapi"].startswith("3.1.")


def test_every_request_example_is_accepted(live):
    with open(DOC_PATH, encoding="utf-8") as f:
        doc = json.load(f)
    ids = seed(live)
    sentinels = {doc["x-rapport-example-ids"][name]: real for name, real in ids.items()}
    failures = []
    sent = 0
    for method, template, params, body, content_type, responses in requests_of(doc):
        path = template
        query = {}
        headers = dict(AUTH)
        for (where, name), p in params.items():
            if where == "path":
                assert "example" in p, f"{method} {template}: no example for path parameter {name}"
                value = urllib.parse.quote(substitute(str(p["example"]), sentinels), safe="")
                path = path.replace("{" + name + "}", value)
            elif "example" in p:
                value = substitute(p["example"], sentinels)
                value = json.dumps(value) if isinstance(value, bool) else str(value)
                (query if where == "query" else headers)[name] = value
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            body = substitute(body, sentinels)
            data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
            headers["Content-Type"] = content_type
        status, answer_headers, answer = live.request(method.upper(), path, data, headers)
        sent += 1
        if not 200 <= status < 300:
            failures.append(f"{method.upper()} {path} → {status} {answer[:300]!r}")
            continue
        # The answer matches the documented schema of its status.
        documented = resolve(doc, responses.get(str(status), {}))
        media = documented.get("content", {}).get("application/json")
        if media is None:
            if str(status) not in responses:
                failures.append(f"{method.upper()} {path} → {status}: status not documented")
            continue
        assert answer_headers["content-type"] == "application/json"
        error = jsonschema_error(doc, media["schema"], json.loads(answer))
        if error:
            failures.append(f"{method.upper()} {path} → {status}: {error}")
    assert not failures, "examples refused:\n" + "\n".join(failures)
    assert sent >= len(doc["paths"])
