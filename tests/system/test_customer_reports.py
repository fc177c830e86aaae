"""Issue 15, the customers reports: top customers (by amount, growth and
margin), the products report, and composition by measure=count|amount and
by product — each equal to the sums this test makes from the orders it
published (some sent twice, some cancelled, some in another currency, one
placed on New Year's morning in +08:00, which is the old year in UTC).

Real processes: the broker, users, customers, the gateway (as
tests/system/test_orders.py); the orders go in over POST /api/v1/events.
"""

import datetime
from fractions import Fraction
import random
import urllib.parse

import pytest

from test_customers import Customers
from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, bearer, create_user

EVENTS = "/api/v1/events"
CUSTOMERS = "/api/v1/customers"
REPORTS = "/api/v1/reports/customers"
YEAR = datetime.datetime.now(datetime.timezone.utc).year
PRODUCTS = ["电缆", "开关", "变压器", "母线槽"]
GRADES = ["A", "B", "C", None]


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1)
    s.procs.append(Customers(s.broker, tmp_path / "customers0"))
    s.gateways[0].wait_customers()  # the default grading: no grading_set to wait for
    yield s
    s.stop()


def cents(value):
    return round(value * 100)


def utc_year(placed_at):
    return datetime.datetime.fromisoformat(placed_at.replace("Z", "+00:00")).astimezone(
        datetime.timezone.utc).year


def report(gw, name, headers=AUTH, **query):
    path = f"{REPORTS}/{name}" + ("?" + urllib.parse.urlencode(query) if query else "")
    status, _, body = gw.json("GET", path, headers=headers)
    assert status == 200, (path, body)
    return body


class World:
    """The customers and orders published, and the sums they must make."""

    def __init__(self, gw, sales):
        rng = random.Random(15)
        self.customers = {}  # id → {code, name, owner, grade}
        for i in range(14):
            owner = sales["id"] if i % 4 == 0 else None
            fields = {"name": f"报表客户{i:02d}有限公司", "code": f"RPT-{i:02d}", "team": "east"}
            if owner:
                fields["owner"] = owner
            if GRADES[i % 4]:
                fields["grade"] = GRADES[i % 4]
            status, _, body = gw.json("POST", CUSTOMERS, fields, {**AUTH, **JSON})
            assert status == 201, body
            self.customers[body["id"]] = {"code": fields["code"], "name": fields["name"],
                                          "owner": body["owner"], "grade": body["grade"]}
        ids = sorted(self.customers)
        self.orders = {}  # order_no → the order that counts (the first sent)
        self.events = []
        n = 0
        for cid in ids[:12]:  # two customers never buy
            code = self.customers[cid]["code"]
            for k in range(rng.randint(1, 6)):
                n += 1
                # The first one this year in CNY, kept: each ranks by amount.
                year = YEAR if k == 0 else rng.choice([YEAR, YEAR, YEAR - 1, YEAR - 2])
                month, day = rng.randint(1, 12), rng.randint(1, 28)
                placed_at = f"{year}-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:30:00Z"
                amount = rng.randint(100, 500000)  # cents
                order = {"order_no": f"SO-{n}", "customer": {"code": code},
                         "amount": amount / 100,
                         "currency": "USD" if n % 7 == 0 and k else "CNY",
                         "quantity": rng.randint(1, 9), "product": rng.choice(PRODUCTS),
                         "placed_at": placed_at}
                if rng.random() < 0.5:
                    order["cost"] = rng.randint(0, amount) / 100
                self.place(order)
                if n % 6 == 0:  # sent again under another id: counts once
                    self.events.append({"type": "order.placed", "id": f"again-{n}",
                                        "source": "erp", "data": {**order, "amount": 1}})
                if k and n % 5 == 0:
                    self.events.append({"type": "order.cancelled", "id": f"cancel-{n}",
                                        "source": "erp",
                                        "data": {"order_no": order["order_no"],
                                                 "cancelled_at": f"{YEAR}-01-01T00:00:00Z"}})
                    self.orders[order["order_no"]]["live"] = False
        assert sum(not o["live"] for o in self.orders.values()) >= 3
        # New Year's morning in Beijing: the year before in UTC.
        self.place({"order_no": "SO-NY", "customer": {"code": self.customers[ids[0]]["code"]},
                    "amount": 777.77, "currency": "CNY", "quantity": 1, "product": "电缆",
                    "placed_at": f"{YEAR}-01-01T07:00:00+08:00", "cost": 700})
        by_code = {c["code"]: cid for cid, c in self.customers.items()}
        for o in self.orders.values():
            o["customer_id"] = by_code[o["customer"]["code"]]
        for i in range(0, len(self.events), 200):
            status, _, body = gw.json("POST", EVENTS, {"events": self.events[i:i + 200]},
                                      {**AUTH, **JSON})
            assert status == 202, body
        # Grades not set by hand follow the orders: read them back.
        for cid, c in self.customers.items():
            status, _, body = gw.json("GET", f"{CUSTOMERS}/{cid}", headers=AUTH)
            assert status == 200, body
            c["grade"] = body["grade"]

    def place(self, order):
        self.events.append({"type": "order.placed", "id": f"ev-{order['order_no']}",
                            "source": "erp", "data": order})
        self.orders[order["order_no"]] = {**order, "live": True}

    def live(self, year, currency=None, who=None):
        for o in self.orders.values():
            if (o["live"] and utc_year(o["placed_at"]) == year
                    and (currency is None or o["currency"] == currency)
                    and (who is None or o["customer_id"] in who)):
                yield o

    def sums(self, year, currency, who=None):
        """customer id → {orders, amount, last_year, margin, costed} in cents."""
        out = {}
        for y, key in ((year, "amount"), (year - 1, "last_year")):
            for o in self.live(y, currency, who):
                s = out.setdefault(o["customer_id"], {"orders": 0, "amount": 0, "last_year": 0,
                                                      "margin": None, "costed": 0})
                s[key] += cents(o["amount"])
                if y == year:
                    s["orders"] += 1
                    if "cost" in o:
                        s["margin"] = (s["margin"] or 0) + cents(o["amount"]) - cents(o["cost"])
                        s["costed"] += cents(o["amount"])
        return out

    def top(self, by, year, currency, limit, who=None):
        sums = self.sums(year, currency, who)
        if by == "amount":
            rows = [c for c, s in sums.items() if s["orders"] > 0]
            rows.sort(key=lambda c: (-sums[c]["amount"], c))
        elif by == "growth":
            rows = [c for c, s in sums.items() if s["orders"] > 0 or s["last_year"] > 0]
            # Exact: growth ranks as amount / last_year does (fractions).
            rows.sort(key=lambda c: (sums[c]["last_year"] == 0,
                                     -Fraction(sums[c]["amount"], sums[c]["last_year"] or 1),
                                     -sums[c]["amount"], c))
        else:
            rows = [c for c, s in sums.items() if s["margin"] is not None]
            rows.sort(key=lambda c: (-sums[c]["margin"], -sums[c]["amount"], c))
        return [(c, sums[c]) for c in rows[:limit]]


def check_top(world, answer, by, year, currency, limit, who=None):
    want = world.top(by, year, currency, limit, who)
    assert (answer["by"], answer["year"], answer["currency"]) == (by, year, currency)
    assert [i["customer_id"] for i in answer["items"]] == [c for c, _ in want], (by, answer)
    for item, (cid, s) in zip(answer["items"], want):
        c = world.customers[cid]
        assert (item["code"], item["name"], item["owner"], item["grade"]) == (
            c["code"], c["name"], c["owner"], c["grade"]), item
        assert item["orders"] == s["orders"] and cents(item["amount"]) == s["amount"], (item, s)
        assert cents(item["last_year"]) == s["last_year"], (item, s)
        if s["last_year"]:
            growth = (s["amount"] - s["last_year"]) / s["last_year"]
            assert abs(item["growth"] - growth) < 0.00005 + 1e-12, (item, s)
        else:
            assert item["growth"] is None
        if s["margin"] is None:
            assert item["margin"] is None and item["margin_rate"] is None
        else:
            assert cents(item["margin"]) == s["margin"], (item, s)
            assert abs(item["margin_rate"] - s["margin"] / s["costed"]) < 0.00005 + 1e-12


def test_top_customers_equal_the_sums(stack):
    gw = stack.gateways[0]
    sales = create_user(gw, name="报表销售", email="rpt.sales@example.cn", role="sales", team="east")
    world = World(gw, sales)
    # Defaults: by amount, this UTC year, the grading currency, 10.
    top = report(gw, "top")
    check_top(world, top, "amount", YEAR, "CNY", 10)
    assert len(top["items"]) == 10  # more than ten customers bought this year
    check_top(world, report(gw, "top", by="growth", limit=100), "growth", YEAR, "CNY", 100)
    check_top(world, report(gw, "top", by="margin", limit=3), "margin", YEAR, "CNY", 3)
    check_top(world, report(gw, "top", by="amount", year=YEAR - 1, currency="USD", limit=100),
              "amount", YEAR - 1, "USD", 100)
    # The New Year's order counts in the year before, on its customer.
    first = sorted(world.customers)[0]
    last_year = report(gw, "top", year=YEAR - 1, limit=100)
    assert any(i["customer_id"] == first for i in last_year["items"])
    # A sales user ranks their own customers only.
    key = bearer(sales["api_key"])
    own = {cid for cid, c in world.customers.items() if c["owner"] == sales["id"]}
    check_top(world, report(gw, "top", headers=key, limit=100), "amount", YEAR, "CNY", 100, own)
    # Bad parameters: one 422 naming each.
    for query, field in (("by=size", "by"), ("limit=0", "limit"), ("limit=101", "limit"),
                         ("year=12", "year"), ("year=soon", "year"), ("currency=cny", "currency")):
        status, headers, raw = gw.request("GET", f"{REPORTS}/top?{query}", headers=AUTH)
        problem = assert_problem(status, headers, raw, 422, "invalid")
        assert [e["field"] for e in problem["errors"]] == [field], problem
    status, headers, raw = gw.request("GET", f"{REPORTS}/top?colour=red", headers=AUTH)
    assert status == 400, raw

    # Products: per product, customers, sales, average and top three.
    for year, currency in ((YEAR, "CNY"), (YEAR - 1, "CNY"), (YEAR, "USD")):
        answer = report(gw, "products", year=year, currency=currency)
        per = {}
        for o in world.live(year, currency):
            p = per.setdefault(o["product"], {"orders": 0, "by": {}})
            p["orders"] += 1
            p["by"][o["customer_id"]] = p["by"].get(o["customer_id"], 0) + cents(o["amount"])
        want = sorted(per, key=lambda p: (-sum(per[p]["by"].values()), p.encode()))
        assert [i["product"] for i in answer["items"]] == want, answer
        for item in answer["items"]:
            p = per[item["product"]]
            amount = sum(p["by"].values())
            assert item["customers"] == len(p["by"]) and item["orders"] == p["orders"]
            assert cents(item["amount"]) == amount
            assert cents(item["average"]) == (amount * 2 + len(p["by"])) // (len(p["by"]) * 2)
            best = sorted(p["by"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            assert [(t["customer_id"], cents(t["amount"])) for t in item["top"]] == best, item
            for t in item["top"]:
                assert (t["code"], t["name"]) == (world.customers[t["customer_id"]]["code"],
                                                  world.customers[t["customer_id"]]["name"])
        buyers = {o["customer_id"] for o in world.live(year, currency)}
        assert answer["total"] == {
            "products": len(per), "customers": len(buyers),
            "orders": sum(p["orders"] for p in per.values()),
            "amount": answer["total"]["amount"]}
        assert cents(answer["total"]["amount"]) == sum(
            cents(o["amount"]) for o in world.live(year, currency))
    assert len(report(gw, "products", limit=1)["items"]) == 1

    # Composition: the share of sales by grade, and by product.
    comp = report(gw, "composition", by="grade", measure="amount")
    assert (comp["measure"], comp["year"], comp["currency"]) == ("amount", YEAR, "CNY")
    sums = world.sums(YEAR, "CNY")
    want = {}
    for cid, c in world.customers.items():
        g = want.setdefault(c["grade"], [0, 0])
        g[0] += 1
        g[1] += sums.get(cid, {"amount": 0})["amount"]
    assert {g["key"]: [g["count"], cents(g["amount"])] for g in comp["groups"]} == want
    total = sum(a for _, a in want.values())
    assert cents(comp["amount"]) == total and comp["total"] == len(world.customers)
    assert [cents(g["amount"]) for g in comp["groups"]] == sorted(
        (cents(g["amount"]) for g in comp["groups"]), reverse=True)
    for g in comp["groups"]:
        assert abs(g["share"] - cents(g["amount"]) / total) < 1e-9
    comp = report(gw, "composition", by="product", measure="amount")
    per = {}
    for o in world.live(YEAR, "CNY"):
        per.setdefault(o["product"], {})
        per[o["product"]][o["customer_id"]] = 1
        per[o["product"]]["$"] = per[o["product"]].get("$", 0) + cents(o["amount"])
    assert {g["key"]: (g["count"], cents(g["amount"])) for g in comp["groups"]} == {
        p: (len(v) - 1, v["$"]) for p, v in per.items()}
    comp = report(gw, "composition", by="product")
    assert comp["measure"] == "count" and comp["year"] == YEAR
    buyers = {}
    for o in world.live(YEAR):
        buyers.setdefault(o["product"], set()).add(o["customer_id"])
    assert {g["key"]: g["count"] for g in comp["groups"]} == {p: len(s) for p, s in buyers.items()}
    assert comp["total"] == len({o["customer_id"] for o in world.live(YEAR)})
    # The count measure is as it was.
    comp = report(gw, "composition", by="grade")
    assert comp["total"] == len(world.customers)
    assert abs(sum(g["share"] for g in comp["groups"]) - 1) < 1e-9
    status, headers, raw = gw.request("GET", f"{REPORTS}/composition?by=grade&measure=weight",
                                      headers=AUTH)
    problem = assert_problem(status, headers, raw, 422, "invalid")
    assert [e["field"] for e in problem["errors"]] == ["measure"]
