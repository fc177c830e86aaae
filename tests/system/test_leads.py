"""Issue 15, leads: a web site's lead.captured becomes a customer in tier
lead with a first deal in the default pipeline's lead stage, owned in turn
by the active sales users of the configured team — or, when it matches a
customer by phone, e-mail or company name, a note on that customer and a
new deal for it.

Real processes: the broker, users, customers and opportunities (the team
configured as an operator would, RAPPORT_CUSTOMERS_LEAD_TEAM), the gateway;
1,000 leads through HTTP in batches, as a web site's integration sends them.
"""

import collections

import pytest

from conftest import SLOW, wait_until
from test_customers import Customers
from test_gateway import AUTH, JSON
from test_gateway_users import Stack, create_user
from opportunities_story import Opportunities

EVENTS = "/api/v1/events"
TEAM = {"RAPPORT_CUSTOMERS_LEAD_TEAM": "web"}


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1)
    s.procs.append(Customers(s.broker, tmp_path / "customers0", env=TEAM))
    s.procs.append(Opportunities(s.broker, tmp_path / "opportunities0", env=TEAM))
    gw = s.gateways[0]
    gw.wait_customers()
    with s.broker.client() as client:
        def ready():
            types = {e["type"] for e in client.read_all()[0]}
            return {"customer.grading_set", "opportunity.pipeline_created"} <= types
        wait_until(ready, 10 * SLOW, interval=0.05, what="the lead team and the default pipeline")
    yield s
    s.stop()


def lead(n, **data):
    d = {"name": f"访客{n}", "company": f"线索公司{n:04d}有限责任公司", "phone": f"+86139{n:08d}",
         "source": "website", "campaign": "双十一", "captured_at": "2026-11-23T08:00:00Z"}
    d.update(data)
    return {"type": "lead.captured", "id": f"web-{n}", "source": "website", "data": d}


def publish(gw, events):
    status, _, body = gw.json("POST", EVENTS, {"events": events}, {**AUTH, **JSON})
    assert status == 202, body
    return body


def all_pages(gw, path):
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, _, body = gw.json("GET", url, headers=AUTH)
        assert status == 200, body
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def test_leads_go_round_robin_once_each(stack):
    gw = stack.gateways[0]
    sellers = [create_user(gw, name=f"销售{i}", email=f"s{i}@example.cn", role="sales",
                           team="web")["id"] for i in range(5)]
    other = create_user(gw, name="别组", email="x@example.cn", role="sales", team="east")["id"]
    revoked = create_user(gw, name="离职", email="r@example.cn", role="sales", team="web")["id"]
    status, _, body = gw.json("DELETE", f"/api/v1/users/{revoked}", headers=AUTH)
    assert status == 200, body
    for first in range(0, 1000, 100):
        body = publish(gw, [lead(n) for n in range(first, first + 100)])
        assert {i["status"] for i in body["items"]} == {"accepted"}
    # Sent again (the same ids): nothing new.
    again = publish(gw, [lead(n) for n in range(0, 100)])
    assert {i["status"] for i in again["items"]} == {"duplicate"}

    customers = [c for c in all_pages(gw, "/api/v1/customers?tier=lead")]
    assert len(customers) == 1000, len(customers)
    owners = collections.Counter(c["owner"] for c in customers)
    assert set(owners) == set(sellers), owners  # not the other team's, not the revoked one
    assert all(199 <= n <= 201 for n in owners.values()), owners
    assert other not in owners and revoked not in owners
    deals = all_pages(gw, "/api/v1/opportunities?source=website")
    assert len(deals) == 1000, len(deals)
    by_customer = {c["id"]: c for c in customers}
    for d in deals:
        assert d["stage"] == "lead" and d["pipeline_id"] == "default", d
        assert d["owner"] == by_customer[d["customer_id"]]["owner"], d


def test_a_lead_matching_a_customer_attaches_to_it(stack):
    gw = stack.gateways[0]
    create_user(gw, name="销售", email="s@example.cn", role="sales", team="web")
    status, _, known = gw.json("POST", "/api/v1/customers",
                               {"name": "老客户有限公司", "mobile": "+8613800138000",
                                "owner": "old-owner", "team": "east"}, {**AUTH, **JSON})
    assert status == 201, known
    # A national number: the same mobile.
    publish(gw, [lead(1, phone="138 0013 8000", company=None, note="想要报价")])
    status, _, acts = gw.json("GET", f"/api/v1/customers/{known['id']}/activities", headers=AUTH)
    assert status == 200 and len(acts["items"]) == 1, acts
    assert acts["items"][0]["kind"] == "note" and "想要报价" in acts["items"][0]["summary"]
    got = gw.json("GET", f"/api/v1/customers/{known['id']}", headers=AUTH)[2]
    assert got["last_contacted_at"] is None  # a lead is not a contact
    status, _, deals = gw.json("GET", f"/api/v1/customers/{known['id']}/opportunities",
                               headers=AUTH)
    assert status == 200 and len(deals["items"]) == 1, deals
    assert deals["items"][0]["owner"] == "old-owner" and deals["items"][0]["stage"] == "lead"
    assert all_pages(gw, "/api/v1/customers?tier=lead") == []
    # By company name, normalized.
    publish(gw, [lead(2, phone=None, company="老客户 有限公司")])
    status, _, deals = gw.json("GET", f"/api/v1/customers/{known['id']}/opportunities",
                               headers=AUTH)
    assert len(deals["items"]) == 2, deals


def test_a_lead_matching_a_contact_attaches_to_its_customer(stack):
    gw = stack.gateways[0]
    status, _, known = gw.json("POST", "/api/v1/customers", {"name": "己公司", "owner": "o1"},
                               {**AUTH, **JSON})
    assert status == 201, known
    status, _, contact = gw.json("POST", f"/api/v1/customers/{known['id']}/contacts",
                                 {"name": "王采购", "email": "Wang.Buyer@ji.example.cn",
                                  "phones": ["+8613700137000"]}, {**AUTH, **JSON})
    assert status == 201, contact
    publish(gw, [lead(5, phone=None, company=None, email="wang.buyer@JI.example.cn")])
    status, _, deals = gw.json("GET", f"/api/v1/customers/{known['id']}/opportunities",
                               headers=AUTH)
    assert status == 200 and len(deals["items"]) == 1, deals
    # Its phone changes: the old number no longer matches, the new one does.
    status, _, body = gw.json("PATCH", f"/api/v1/customers/{known['id']}/contacts/{contact['id']}",
                              {"phones": ["+8613700137001"], "email": None}, {**AUTH, **JSON})
    assert status == 200, body
    publish(gw, [lead(6, phone="+8613700137000", company=None)])
    publish(gw, [lead(7, phone="13700137001", company=None)])
    status, _, deals = gw.json("GET", f"/api/v1/customers/{known['id']}/opportunities",
                               headers=AUTH)
    assert len(deals["items"]) == 2, deals
    assert len(all_pages(gw, "/api/v1/customers?tier=lead")) == 1


def test_leads_once_through_kills(stack):
    """A lead sent twice is one customer and one deal, even when the
    writers are killed in between: the second sending is a duplicate in
    the journal, and the folds started again on the same stores (or new
    ones) make the same customers and deals from it."""
    gw = stack.gateways[0]
    sellers = {create_user(gw, name=f"销售{i}", email=f"k{i}@example.cn", role="sales",
                           team="web")["id"] for i in range(3)}
    publish(gw, [lead(n) for n in range(0, 100)])
    for p in [p for p in stack.procs if p.name in ("customers", "opportunities")]:
        p.kill9()
        stack.procs.remove(p)
    tmp = stack.tmp_path
    stack.procs.append(Customers(stack.broker, tmp / "customers0", env=TEAM))
    stack.procs.append(Opportunities(stack.broker, tmp / "opportunities0", env=TEAM))
    # The same leads again, and new ones, while the writers come back.
    body = publish(gw, [lead(n) for n in range(50, 150)])
    assert [i["status"] for i in body["items"]] == ["duplicate"] * 50 + ["accepted"] * 50
    # A fresh instance of each, from the journal alone, answers the same.
    stack.procs.append(Customers(stack.broker, tmp / "customers-fresh", env=TEAM))
    stack.procs.append(Opportunities(stack.broker, tmp / "opportunities-fresh", env=TEAM))
    wait_until(lambda: gw.request("GET", "/api/v1/customers?tier=lead&limit=1",
                                  headers=AUTH)[0] == 200, 15 * SLOW, interval=0.05,
               what="customers back")
    wait_until(lambda: gw.request("GET", "/api/v1/opportunities?limit=1",
                                  headers=AUTH)[0] == 200, 15 * SLOW, interval=0.05,
               what="opportunities back")
    customers = all_pages(gw, "/api/v1/customers?tier=lead")
    assert len(customers) == 150 and len({c["name"] for c in customers}) == 150
    owners = collections.Counter(c["owner"] for c in customers)
    assert set(owners) == sellers and all(n == 50 for n in owners.values()), owners
    deals = all_pages(gw, "/api/v1/opportunities?source=website")
    assert len(deals) == 150 and {d["customer_id"] for d in deals} == {c["id"] for c in customers}
