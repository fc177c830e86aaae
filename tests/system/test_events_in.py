"""Issue 15, events in: integrators publish over HTTP (POST /api/v1/events)
and over ZeroMQ (journal.append), checked and kept once alike.

Real processes: the broker, users and customers, the gateway. Over HTTP: one
event or a batch; a batch with one invalid event answers 422 naming it and
appends nothing (the journal's head does not move); a retried batch answers
"duplicate" with its first seqs; an unknown type is refused; only admin and
integrator keys may publish. Over ZeroMQ: examples/integrator.py, a program
that uses pyzmq and msgpack only, runs against the broker as an integrator
would run it.
"""

import json
import os
import subprocess

import pytest

from conftest import ROOT, SLOW
from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, bearer, create_user

EVENTS = "/api/v1/events"


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=True, gateways=1)
    yield s
    s.stop()


def order(n, amount=100, **over):
    e = {"type": "order.placed", "id": f"K3-{n}", "source": "kingdee-k3",
         "data": {"order_no": f"SO-{n}", "customer": {"code": "C000001"}, "amount": amount,
                  "currency": "CNY", "quantity": 2, "product": "电力电缆 YJV22 3x95",
                  "placed_at": "2026-11-23T16:05:00+08:00"}}
    e.update(over)
    return e


def post(gw, body, headers=AUTH):
    return gw.json("POST", EVENTS, body, {**headers, **JSON})


def test_http_batches_checked_whole_and_kept_once(stack):
    gw = stack.gateways[0]
    with stack.broker.client() as client:
        head = client.head()
        # One event alone.
        status, headers, body = post(gw, order(1))
        assert status == 202, body
        assert body["items"] == [{"id": "K3-1", "seq": head + 1, "status": "accepted"}], body
        assert int(headers["x-rapport-seq"]) == head + 1
        # A batch with one bad event: 422 naming it, nothing appended.
        bad = order(3, amount=1.005)
        del bad["data"]["currency"]
        raw_status, raw_headers, raw = gw.request(
            "POST", EVENTS, json.dumps({"events": [order(2), bad]}).encode(),
            {**AUTH, **JSON})
        problem = assert_problem(raw_status, raw_headers, raw, 422, "bad_event")
        assert {(e["field"], e["code"]) for e in problem["errors"]} == {
            ("events[1].data.amount", "invalid"), ("events[1].data.currency", "required")}, problem
        assert client.head() == head + 1
        # A good batch, then the same batch again: duplicates with the first seqs.
        batch = {"events": [order(2), order(3, amount=99.5), order(1)]}
        status, _, first = post(gw, batch)
        assert status == 202, first
        assert [(i["id"], i["status"]) for i in first["items"]] == [
            ("K3-2", "accepted"), ("K3-3", "accepted"), ("K3-1", "duplicate")], first
        assert first["items"][2]["seq"] == head + 1
        assert client.head() == head + 3
        status, _, again = post(gw, batch)
        assert status == 202 and again["duplicate"] is True, again
        assert [i["seq"] for i in again["items"]] == [i["seq"] for i in first["items"]]
        assert {i["status"] for i in again["items"]} == {"duplicate"}
        assert client.head() == head + 3
        # Over HTTP a request holds 500 events at most (ZeroMQ: 1,000).
        raw_status, raw_headers, raw = gw.request(
            "POST", EVENTS, json.dumps({"events": [order(n) for n in range(10, 511)]}).encode(),
            {**AUTH, **JSON})
        problem = assert_problem(raw_status, raw_headers, raw, 422, "too_many")
        assert problem["errors"][0]["field"] == "events", problem
        assert client.head() == head + 3
        # The same id from another source is another event.
        status, _, other = post(gw, order(1, source="web-shop"))
        assert status == 202 and other["items"][0]["status"] == "accepted", other
        # What the journal keeps is what was sent.
        events, _ = client.read_all()
        kept = {e["id"]: e for e in events if e["type"] == "order.placed"}
        assert kept["K3-3"]["data"]["amount"] == 99.5 and kept["K3-3"]["source"] == "kingdee-k3"

        # Refused: an unknown type, a service's own type, malformed bodies.
        status, headers, raw = gw.request(
            "POST", EVENTS, b'{"type":"order.shipped","id":"x","source":"k3","data":{}}',
            {**AUTH, **JSON})
        assert_problem(status, headers, raw, 422, "unknown_type")
        status, headers, raw = gw.request(
            "POST", EVENTS, b'{"type":"customer.created","id":"x","source":"k3","data":{}}',
            {**AUTH, **JSON})
        assert_problem(status, headers, raw, 403, "not_owner")
        status, headers, raw = gw.request("POST", EVENTS, b'{"events": []}', {**AUTH, **JSON})
        assert status == 400, raw
        assert client.head() == head + 4


def test_only_admin_and_integrator_keys_publish(stack):
    gw = stack.gateways[0]
    erp = create_user(gw, name="金蝶K3", email="k3@example.cn", role="integrator")
    sales = create_user(gw, name="销售", email="s@example.cn", role="sales", team="east")
    status, _, body = post(gw, order(10), bearer(erp["api_key"]))
    assert status == 202 and body["items"][0]["status"] == "accepted", body
    for user in (sales,):
        status, headers, raw = gw.request("POST", EVENTS,
                                          json.dumps(order(11)).encode(),
                                          {**bearer(user["api_key"]), **JSON})
        assert_problem(status, headers, raw, 403, "forbidden")
    status, headers, raw = gw.request("POST", EVENTS, b"{}", JSON)
    assert status == 401, raw


def test_the_zeromq_example_runs(stack):
    """examples/integrator.py publishes, is told duplicates, is refused a bad
    amount, and sees its orders on the feed."""
    example = os.path.join(ROOT, "examples", "integrator.py")
    proc = subprocess.run(["/usr/bin/python3", example, stack.broker.endpoint, stack.broker.feed],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SLOW)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out
    assert "duplicate" in out and "refused: bad_event events[0].data.amount" in out, out
    assert out.strip().endswith("ok"), out
