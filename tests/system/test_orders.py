"""Issue 15, what integrators' orders do: the customers service folds
order.placed, order.cancelled and payment.received into each customer's
stats, orders, grade and tier; what names nobody waits in the unmatched
queue until an admin links it.

Real processes: the broker, users, customers (with small grading thresholds
from the environment, as an operator would set them), the gateway; the
events go in over HTTP as an integrator sends them.
"""

import json
import re

import pytest

from conftest import SLOW, wait_until
from test_customers import Customers
from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, bearer, create_user

EVENTS = "/api/v1/events"
CUSTOMERS = "/api/v1/customers"
GRADING = {"RAPPORT_CUSTOMERS_GRADES": "A=1000 B=500 C=100 D=10",
           "RAPPORT_CUSTOMERS_TIERS": "key=500 strategic=1000"}


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1)
    s.procs.append(Customers(s.broker, tmp_path / "customers0", env=GRADING))
    s.gateways[0].wait_customers()
    # The writer appends its configured grading once it holds the lease;
    # orders count by it from that event on.
    with s.broker.client() as client:
        wait_until(lambda: any(e["type"] == "customer.grading_set" for e in client.read_all()[0]),
                   10 * SLOW, interval=0.05, what="the grading in the journal")
    # Read after that event: a write of the admin's that follows it.
    customer(s.gateways[0], name="起点")
    yield s
    s.stop()


def publish(gw, *events, headers=AUTH):
    status, _, body = gw.json("POST", EVENTS, {"events": list(events)}, {**headers, **JSON})
    assert status == 202, body
    return body


def order(no, ref, amount, eid=None, **data):
    d = {"order_no": no, "customer": ref, "amount": amount, "currency": "CNY",
         "quantity": 2, "product": "电缆", "placed_at": "2026-11-23T16:05:00+08:00"}
    d.update(data)
    return {"type": "order.placed", "id": eid or f"K3-{no}", "source": "kingdee-k3", "data": d}


def cancel(no, eid=None):
    return {"type": "order.cancelled", "id": eid or f"K3-X-{no}", "source": "kingdee-k3",
            "data": {"order_no": no, "cancelled_at": "2026-11-24T08:00:00Z", "reason": "改单"}}


def customer(gw, **fields):
    status, _, body = gw.json("POST", CUSTOMERS, fields, {**AUTH, **JSON})
    assert status == 201, body
    return body


def get(gw, cid):
    status, _, body = gw.json("GET", f"{CUSTOMERS}/{cid}", headers=AUTH)
    assert status == 200, body
    return body


def unmatched_metric(gw):
    status, _, raw = gw.request("GET", "/metrics")
    assert status == 200
    found = re.findall(rb'^rapport_customers_unmatched_events\{instance="[^"]*"\} (\d+)$', raw, re.M)
    return int(found[0]) if len(found) == 1 else None


def test_orders_make_stats_grade_and_tier(stack):
    gw = stack.gateways[0]
    c = customer(gw, name="上海某某电气有限公司", code="K3-001", tier="prospect", credit_limit=300)
    assert c["stats"]["orders"] == 0 and c["grade"] is None and c["grade_manual"] is not True
    # Two orders (one sent twice under another event id), with a cost.
    publish(gw, order("SO-1", {"code": "K3-001"}, 50, cost=30),
            order("SO-2", {"id": c["id"]}, 70.5),
            order("SO-1", {"code": "K3-001"}, 999, eid="K3-resent"))
    got = get(gw, c["id"])
    cny = got["stats"]["currencies"]["CNY"]
    assert got["stats"]["orders"] == 2 and cny["orders"] == 2, got["stats"]
    assert cny["amount"] == 120.5 and cny["quantity"] == 4 and cny["average"] == 60.25
    assert cny["cost"] == 30 and cny["margin"] == 20 and cny["margin_rate"] == 0.4
    assert got["stats"]["first_order_at"] == "2026-11-23T08:05:00.000Z"
    assert got["grade"] == "C" and got["tier"] == "transacting", got
    # 620.5 in twelve months: B, key; over the credit limit until paid.
    publish(gw, order("SO-3", {"code": "K3-001"}, 500))
    got = get(gw, c["id"])
    assert (got["grade"], got["tier"]) == ("B", "key"), got
    assert got["stats"]["over_credit_limit"] is True and got["stats"]["balance"] == 620.5
    publish(gw, {"type": "payment.received", "id": "PAY-1", "source": "kingdee-k3",
                 "data": {"customer": {"code": "K3-001"}, "amount": 400, "currency": "CNY",
                          "received_at": "2026-11-25T00:00:00Z", "order_no": "SO-3"}})
    got = get(gw, c["id"])
    assert got["stats"]["balance"] == 220.5 and got["stats"]["over_credit_limit"] is False
    # A cancel takes SO-3 back (twice: once); the grade and tier follow.
    publish(gw, cancel("SO-3"), cancel("SO-3", eid="again"))
    got = get(gw, c["id"])
    assert got["stats"]["currencies"]["CNY"]["amount"] == 120.5
    assert (got["grade"], got["tier"]) == ("C", "transacting"), got
    # The timeline shows the orders with the moves they caused.
    status, _, timeline = gw.json("GET", f"{CUSTOMERS}/{c['id']}/timeline", headers=AUTH)
    assert status == 200
    cancelled = [e for e in timeline["items"] if e["type"] == "order.cancelled"]
    assert len(cancelled) == 1 and cancelled[0]["data"]["order_no"] == "SO-3"
    assert cancelled[0]["data"]["grade"] == {"from": "B", "to": "C"}, cancelled[0]
    assert cancelled[0]["data"]["tier"] == {"from": "key", "to": "transacting"}
    # The customer's orders, newest first, the cancelled one marked.
    status, _, orders = gw.json("GET", f"{CUSTOMERS}/{c['id']}/orders", headers=AUTH)
    assert status == 200
    assert {o["order_no"]: o["status"] for o in orders["items"]} == {
        "SO-1": "placed", "SO-2": "placed", "SO-3": "cancelled"}, orders
    assert next(o for o in orders["items"] if o["order_no"] == "SO-1")["amount"] == 50


def test_hand_set_grade_kept_until_cleared(stack):
    gw = stack.gateways[0]
    c = customer(gw, name="乙公司", code="K3-002", grade="A")
    assert c["grade_manual"] is True
    publish(gw, order("SO-10", {"code": "K3-002"}, 20))
    got = get(gw, c["id"])
    assert got["grade"] == "A" and got["tier"] == "transacting", got
    status, _, body = gw.json("PATCH", f"{CUSTOMERS}/{c['id']}", {"grade": None},
                              {**AUTH, **JSON})
    assert status == 200, body
    got = get(gw, c["id"])
    assert got["grade"] == "D" and got["grade_manual"] is False, got
    # A tier set by hand to key stays; an order does not move it.
    gw.json("PATCH", f"{CUSTOMERS}/{c['id']}", {"tier": "strategic"}, {**AUTH, **JSON})
    publish(gw, order("SO-11", {"code": "K3-002"}, 1))
    assert get(gw, c["id"])["tier"] == "strategic"


def test_unmatched_queue_and_match(stack):
    gw = stack.gateways[0]
    c = customer(gw, name="丙公司", code="K3-003")
    publish(gw, order("SO-20", {"tax_id": "91310000NOBODY"}, 80))
    # A cancel before its order: the order never counts.
    publish(gw, cancel("SO-21"), order("SO-21", {"code": "K3-003"}, 9))
    assert get(gw, c["id"])["stats"]["orders"] == 0
    status, _, queue = gw.json("GET", f"{EVENTS}/unmatched", headers=AUTH)
    assert status == 200 and len(queue["items"]) == 1, queue
    entry = queue["items"][0]
    assert entry["order_no"] == "SO-20" and entry["reason"] == "unknown_customer"
    # Counted in /metrics (the gateway probes every instance each second).
    wait_until(lambda: unmatched_metric(gw) == 1, 5 * SLOW, interval=0.1,
               what="the unmatched count in /metrics")
    assert entry["reference"] == {"tax_id": "91310000NOBODY"} and entry["data"]["amount"] == 80
    # Only admins see or match it.
    sales = create_user(gw, name="销售", email="s@example.cn", role="sales", team="east")
    status, headers, raw = gw.request("GET", f"{EVENTS}/unmatched",
                                      headers=bearer(sales["api_key"]))
    assert_problem(status, headers, raw, 403, "forbidden")
    status, headers, raw = gw.request("POST", f"{EVENTS}/unmatched/{entry['id']}/match",
                                      json.dumps({"customer_id": c["id"]}).encode(),
                                      {**bearer(sales["api_key"]), **JSON})
    assert status in (403, 404), raw
    status, headers, raw = gw.request("POST", f"{EVENTS}/unmatched/{entry['id']}/match",
                                      json.dumps({"customer_id": "nobody"}).encode(),
                                      {**AUTH, **JSON})
    assert_problem(status, headers, raw, 422)
    status, _, matched = gw.json("POST", f"{EVENTS}/unmatched/{entry['id']}/match",
                                 {"customer_id": c["id"]}, {**AUTH, **JSON})
    assert status == 200, matched
    assert matched["stats"]["orders"] == 1 and matched["grade"] == "D", matched
    status, _, queue = gw.json("GET", f"{EVENTS}/unmatched", headers=AUTH)
    assert queue["items"] == []
    wait_until(lambda: unmatched_metric(gw) == 0, 5 * SLOW, interval=0.1,
               what="the unmatched count back to 0")
    status, headers, raw = gw.request("POST", f"{EVENTS}/unmatched/{entry['id']}/match",
                                      json.dumps({"customer_id": c["id"]}).encode(),
                                      {**AUTH, **JSON})
    assert_problem(status, headers, raw, 404, "not_found")


def logged(eid, **data):
    d = {"kind": "call", "at": "2026-11-26T09:30:00+08:00", "summary": "询价: 电缆 3x95",
         "duration_s": 180, "by": "总机"}
    d.update(data)
    return {"type": "activity.logged", "id": eid, "source": "pbx", "data": d}


def test_logged_activities_land_on_their_customer(stack):
    gw = stack.gateways[0]
    a = customer(gw, name="丁公司", mobile="+8613800138000", tier="lead")
    b = customer(gw, name="戊公司", email="buyer@wu.example.cn")
    # A national number (read in the CN region), an e-mail in other case,
    # and nobody's number: queued.
    publish(gw, logged("CALL-1", phone="138 0013 8000"),
            logged("MAIL-1", email="Buyer@WU.example.cn", kind="email", at="2026-11-27T01:00:00Z"),
            logged("CALL-2", phone="+8613999999999"))
    got = get(gw, a["id"])
    assert got["last_contacted_at"] == "2026-11-26T01:30:00.000Z", got
    assert got["tier"] == "prospect", got  # a lead, contacted
    status, _, acts = gw.json("GET", f"{CUSTOMERS}/{a['id']}/activities", headers=AUTH)
    assert status == 200 and len(acts["items"]) == 1, acts
    act = acts["items"][0]
    assert (act["kind"], act["summary"], act["duration_s"], act["source"], act["created_by"]) == (
        "call", "询价: 电缆 3x95", 180, "pbx", "总机"), act
    assert get(gw, b["id"])["last_contacted_at"] == "2026-11-27T01:00:00.000Z"
    status, _, queue = gw.json("GET", f"{EVENTS}/unmatched", headers=AUTH)
    assert [e["type"] for e in queue["items"]] == ["activity.logged"], queue
    status, _, matched = gw.json("POST", f"{EVENTS}/unmatched/{queue['items'][0]['id']}/match",
                                 {"customer_id": b["id"]}, {**AUTH, **JSON})
    assert status == 200, matched
    status, _, acts = gw.json("GET", f"{CUSTOMERS}/{b['id']}/activities", headers=AUTH)
    assert len(acts["items"]) == 2, acts
