"""Issue 14: GET /api/v1/opportunities and GET /api/v1/customers/{id}/opportunities
— the opportunities.list op (services/opportunities/query.c) through the
real gateway: the routes, the page shape, the checked query parameters and
who may list (docs/opportunities.md § Listing, docs/api.md).

Real processes: the broker, rapport-users, rapport-customers,
rapport-opportunities and rapport-gateway. Deals themselves cannot be
created yet on this branch (POST /api/v1/opportunities is another part of
issue 14): the filters, sorts and cursors over deals are covered by the
self-test deals_query_test (build/test/test_opportunities_query).
"""

import os
import urllib.parse

import pytest

from conftest import SLOW, build_path, wait_until
from process import ServiceProcess
from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, bearer, create_user

OPP_BINARY = build_path("bin", "rapport-opportunities")
OPPS = "/api/v1/opportunities"


class Opportunities(ServiceProcess):
    def __init__(self, broker, path):
        super().__init__("opportunities", OPP_BINARY, broker, path)


@pytest.fixture
def stack(broker_factory, tmp_path):
    if not os.access(OPP_BINARY, os.X_OK):
        pytest.fail(f"{OPP_BINARY} is not built (run make build)")
    s = Stack(broker_factory, tmp_path, customers=True, gateways=1)
    s.procs.insert(0, Opportunities(s.broker, tmp_path / "opportunities0"))
    with s.broker.client() as client:
        wait_until(lambda: client.mmi("opportunities") == "200", 15 * SLOW, interval=0.05,
                   what="opportunities serving")
    yield s
    s.stop()


def page(gw, path, headers=AUTH):
    status, _, body = gw.json("GET", path, headers=headers)
    assert status == 200, body
    assert set(body) == {"items", "next_cursor"}, body
    return body


def test_list_routes_page_and_checks(stack):
    gw = stack.gateways[0]
    status, _, c = gw.json("POST", "/api/v1/customers", {"name": "苏州工业园区精工制造"},
                           {**AUTH, **JSON})
    assert status == 201, c

    # No deals yet: an empty last page, filtered or not, sorted or not.
    assert page(gw, OPPS) == {"items": [], "next_cursor": None}
    q = urllib.parse.urlencode({"q": "精工", "status": "open", "stage": "lead", "sort": "-amount",
                                "amount_min": "1000.50", "amount_max": "20000",
                                "expected_close_after": "2026-01-01",
                                "created_before": "2026-12-31T00:00:00Z", "stale": "true",
                                "limit": "200"})
    assert page(gw, f"{OPPS}?{q}")["items"] == []
    assert page(gw, f"/api/v1/customers/{c['id']}/opportunities?sort=title")["items"] == []
    assert page(gw, f"{OPPS}?as_of=2026-06-30&status=won")["items"] == []

    # Bad values: 422 naming the field.
    for query, field in [("limit=0", "limit"), ("limit=201", "limit"), ("sort=colour", "sort"),
                         ("amount_min=1.234", "amount_min"), ("amount_max=-5", "amount_max"),
                         ("created_after=yesterday", "created_after"),
                         ("expected_close_before=2026-13-01", "expected_close_before"),
                         ("cursor=AAAA", "cursor"), ("sort=title&cursor=bm9wZQ", "cursor"),
                         ("as_of=2026-02-30", "as_of"), ("as_of=yesterday", "as_of")]:
        for path in (OPPS, f"/api/v1/customers/{c['id']}/opportunities"):
            status, headers, raw = gw.request("GET", f"{path}?{query}", headers=AUTH)
            problem = assert_problem(status, headers, raw, 422, "invalid")
            assert problem["errors"][0]["field"] == field, (query, problem)

    # Export: the header row of the deal columns, no rows yet; the list's
    # checks; the customers export still answers its own columns.
    status, headers, body = gw.request("GET", f"{OPPS}/export?status=open", headers=AUTH)
    assert status == 200 and headers["content-type"].startswith("text/csv"), body
    assert "opportunities.csv" in headers.get("content-disposition", "")
    assert body.decode().split("\r\n")[0] == (
        "customer_id,title,pipeline_id,stage,amount,currency,probability,expected_close,budget,"
        "quote_no,competitors,source,owner,team,lost_reason,tags,custom"), body
    assert body.decode().split("\r\n")[1:] == [""], body
    status, headers, raw = gw.request("GET", f"{OPPS}/export?sort=colour", headers=AUTH)
    assert_problem(status, headers, raw, 422, "invalid")
    status, headers, body = gw.request("GET", "/api/v1/customers/export", headers=AUTH)
    assert status == 200 and body.decode().startswith("code,name,"), body

    # Who may list: sales, managers, readonly (their reach); integrators not.
    for role in ("sales", "manager", "readonly"):
        u = create_user(gw, name=f"{role} 用户", email=f"{role}@example.cn", role=role,
                        team="east")
        assert page(gw, OPPS, bearer(u["api_key"]))["items"] == []
    erp = create_user(gw, name="ERP", email="erp@example.cn", role="integrator", team="east")
    status, headers, raw = gw.request("GET", OPPS, headers=bearer(erp["api_key"]))
    assert_problem(status, headers, raw, 403, "forbidden")
