"""Helpers for the opportunities system tests (issue 14): the stack (broker,
users, customers, opportunities instances, gateway), HTTP calls with a
user's key, lists walked to their end, money compared exactly, and the
expected report cells computed from the lists (docs/opportunities.md,
the report shapes of the brief)."""

import calendar
import datetime
import json
import os
import urllib.parse
from decimal import ROUND_HALF_UP, Decimal

import pytest

from conftest import SLOW, build_path, wait_until
from process import ServiceProcess
from test_gateway import JSON
from test_gateway_users import Stack, bearer

OPP_BINARY = build_path("bin", "rapport-opportunities")
OPPS = "/api/v1/opportunities"
PIPELINES = "/api/v1/pipelines"
REPORTS = "/api/v1/reports/opportunities"
CUSTOMERS = "/api/v1/customers"


class Opportunities(ServiceProcess):
    def __init__(self, broker, path, env=None):
        super().__init__("opportunities", OPP_BINARY, broker, path, env=env)


class OppStack(Stack):
    """Stack (users, one customers instance, gateways) plus `instances`
    rapport-opportunities processes, serving reads and holding the writer
    lease, with the default pipeline seeded."""

    def __init__(self, broker_factory, tmp_path, instances=1, gateways=1):
        if not os.access(OPP_BINARY, os.X_OK):
            pytest.fail(f"{OPP_BINARY} is not built (run make build)")
        super().__init__(broker_factory, tmp_path, customers=True, gateways=gateways)
        self.opps = []
        for _ in range(instances):
            self.add_instance()
        with self.broker.client() as client:
            wait_until(lambda: client.mmi("opportunities") == "200"
                       and client.mmi("opportunities.writer") == "200", 20 * SLOW,
                       interval=0.05, what="opportunities serving, a writer elected")
        gw = self.gateways[0]
        from test_gateway import AUTH
        wait_until(lambda: gw.request("GET", f"{PIPELINES}/default", headers=AUTH)[0] == 200,
                   20 * SLOW, interval=0.05, what="the default pipeline through the gateway")

    def add_instance(self, env=None):
        p = Opportunities(self.broker, self.tmp_path / f"opportunities{len(self.opps)}", env)
        self.opps.append(p)
        self.procs.insert(1, p)  # stopped before users, after the gateways
        return p

    def stop(self):
        self.procs = [p for p in self.procs if not getattr(p, "killed", False)]
        super().stop()


# -- HTTP ----------------------------------------------------------------------


@pytest.fixture
def stack(broker_factory, tmp_path):
    """One of each process (OppStack), stopped after the test."""
    s = OppStack(broker_factory, tmp_path)
    yield s
    s.stop()


def loads(raw):
    """JSON with every non-integer number as a Decimal (money compared exactly)."""
    return json.loads(raw, parse_float=Decimal) if raw else None


def call(gw, key, method, path, body=None, **headers):
    """(status, headers, body parsed with Decimals) as the holder of key."""
    hdrs = {**bearer(key), **headers}
    data = None
    if body is not None:
        hdrs.update(JSON)
        data = json.dumps(body, ensure_ascii=False, default=str).encode()
    status, h, raw = gw.request(method, path, data, hdrs)
    return status, h, loads(raw)


def ok(result, expected=200):
    status, _, body = result
    assert status == expected, (status, body)
    return body


def problem(result, status, code):
    got, headers, body = result
    assert got == status, (got, body)
    assert headers["content-type"] == "application/problem+json", headers
    assert body["code"] == code, body
    return body


def q(path, **query):
    query = {k: ("true" if v is True else v) for k, v in query.items() if v is not None}
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def list_all(gw, key, path=OPPS, **query):
    """Every item of a list, following next_cursor (a short page may have one)."""
    items, cursor = [], None
    for _ in range(10000):
        page = ok(call(gw, key, "GET", q(path, **query, limit=200, cursor=cursor)))
        assert set(page) == {"items", "next_cursor"}, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("the list never ended")


def ids(items):
    return sorted(i["id"] for i in items)


def report(gw, key, name, **query):
    return ok(call(gw, key, "GET", q(f"{REPORTS}/{name}", **query)))


# -- money and dates -----------------------------------------------------------


def money(v):
    return Decimal(str(v))


def amounts_of(items, field="amount"):
    """{currency: exact sum} over deals (those without an amount add nothing)."""
    out = {}
    for d in items:
        if d.get(field) is not None:
            cur = d.get("currency") or "CNY"
            out[cur] = out.get(cur, Decimal(0)) + money(d[field])
    return {k: v for k, v in out.items() if v != 0}


def weighted_of(items):
    out = {}
    for d in items:
        if d.get("amount") is not None:
            cur = d.get("currency") or "CNY"
            w = money(d["amount"]) * d["probability"] / 100
            out[cur] = out.get(cur, Decimal(0)) + w
    # Summed exactly, rounded half up to hundredths once (rapport/money.h).
    return {k: v.quantize(Decimal("0.01"), ROUND_HALF_UP) for k, v in out.items() if v != 0}


def norm(amounts):
    """A report's {currency: number} map, exact, zero entries dropped."""
    assert isinstance(amounts, dict), amounts
    for cur, v in amounts.items():
        assert len(cur) == 3 and cur.isupper(), amounts
        assert not isinstance(v, (str, bool)), amounts
    return {k: money(v) for k, v in amounts.items() if money(v) != 0}


def today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def add_months(d, n):
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return datetime.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def month_start(d):
    return d.replace(day=1)


def month_end(d):
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def iso(d):
    return d.isoformat()


# -- history and the reports' expected cells -----------------------------------


def history(gw, key, deal):
    """Every history entry of a deal (a deal or its id), oldest first."""
    deal_id = deal["id"] if isinstance(deal, dict) else deal
    items, cursor = [], None
    while True:
        page = ok(call(gw, key, "GET", q(f"{OPPS}/{deal_id}/history", limit=200,
                                          cursor=cursor)))
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return sorted(items, key=lambda e: e["seq"])


def expected_funnel(pipeline, deals, histories):
    """{stage key: (reached count, reached amounts, current count, current amounts)}."""
    stages = pipeline["stages"]
    order = {s["key"]: i for i, s in enumerate(stages)}
    kind = {s["key"]: s["kind"] for s in stages}
    out = {s["key"]: [0, [], 0, []] for s in stages}
    for d in deals:
        out[d["stage"]][2] += 1
        out[d["stage"]][3].append(d)
        seen = [e["to"] for e in histories[d["id"]]] + [d["stage"]]
        furthest = max((order[k] for k in seen if k in order and kind[k] != "lost"), default=-1)
        for s in stages:
            if s["kind"] != "lost" and order[s["key"]] <= furthest:
                out[s["key"]][0] += 1
                out[s["key"]][1].append(d)
    for s in stages:
        if s["kind"] == "lost":
            out[s["key"]][0], out[s["key"]][1] = out[s["key"]][2], out[s["key"]][3]
    return {k: (v[0], amounts_of(v[1]), v[2], amounts_of(v[3])) for k, v in out.items()}


def completed_stays(histories):
    """{stage: number of completed stays} from the histories (a stay ends at
    the next entry whose `to` differs)."""
    stays = {}
    for entries in histories.values():
        cur = None
        for e in entries:
            if e["to"] != cur:
                if cur is not None:
                    stays[cur] = stays.get(cur, 0) + 1
                cur = e["to"]
    return stays
