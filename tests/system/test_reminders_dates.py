"""Issue 16, important dates: a contact's birthday and a customer's
registered_on become yearly reminders of kind "date" for the customer's
owner without anyone creating them (docs/reminders.md § Important dates).

Real processes (broker, users, customers, reminders, gateway), HTTP only:
the customer is created, given a contact with a birthday, reassigned,
its contact's birthday moved, the contact removed and the customer
archived; the derived reminders follow each step, on the reminders
service's own fold of the journal.
"""

import pytest

from conftest import SLOW, wait_until
from opportunities_story import call, ok
from test_reminders import REMINDERS, RemStack, people, q

CUSTOMERS = "/api/v1/customers"


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = RemStack(broker_factory, tmp_path, customers=True)
    yield s
    s.stop()


def dates(gw, key, customer_id, **query):
    body = ok(call(gw, key, "GET", q(REMINDERS, kind="date", customer_id=customer_id, **query)))
    return {r["subject"]: r for r in body["items"]}


def wait_dates(gw, key, customer_id, what, check):
    got = {}

    def ready():
        got.clear()
        got.update(dates(gw, key, customer_id))
        return check(got)
    wait_until(ready, 10 * SLOW, interval=0.05, what=what)
    return got


def test_birthday_follows_owner(stack):
    gw = stack.gateways[0]
    mgr, ann, bob, _ = people(gw)
    admin = mgr["api_key"]
    status, _, cust = call(gw, admin, "POST", CUSTOMERS,
                           {"name": "华东机电", "owner": ann["id"], "team": "east",
                            "registered_on": "2010-06-01"})
    assert status == 201, cust
    cid = cust["id"]
    status, _, contact = call(gw, admin, "POST", f"{CUSTOMERS}/{cid}/contacts",
                              {"name": "张三", "birthday": "1984-02-29"})
    assert status == 201, contact

    birthday = "Birthday: 张三 (华东机电)"
    anniversary = "Anniversary: 华东机电"
    got = wait_dates(gw, ann["api_key"], cid, "two dates for ann",
                     lambda d: birthday in d and anniversary in d)
    b = got[birthday]
    assert b["kind"] == "date" and b["assignee"] == ann["id"] and b["team"] == "east"
    assert b["all_day"] is True and b["state"] == "pending"
    assert b["remind_before"] == ["P3D", "PT0S"]
    assert b["time_zone"] == "Asia/Shanghai"
    # Yearly, on the last day of February in years without a 29th.
    occ = ok(call(gw, ann["api_key"], "GET",
                  q(f"{REMINDERS}/{b['id']}/occurrences", **{"from": "2027-01-01T00:00:00Z",
                                                             "to": "2029-01-01T00:00:00Z"})))
    assert [o["at"] for o in occ["items"]] == ["2027-02-27T16:00:00.000Z",
                                              "2028-02-28T16:00:00.000Z"]
    # Bob sees none of them; reassigned, they are bob's and not ann's.
    assert dates(gw, bob["api_key"], cid) == {}
    status, _, body = call(gw, admin, "POST", f"{CUSTOMERS}/{cid}/assign", {"owner": bob["id"]})
    assert status == 200, body
    got = wait_dates(gw, bob["api_key"], cid, "the dates moved to bob",
                     lambda d: birthday in d and anniversary in d)
    assert got[birthday]["id"] == b["id"] and got[birthday]["assignee"] == bob["id"]
    assert dates(gw, ann["api_key"], cid) == {}
    # A date rule sets the lead time: a week before, for every customer.
    status, _, body = call(gw, admin, "POST", "/api/v1/rules",
                           {"name": "重要日期提前一周", "condition": {"type": "date", "before": "P7D"}})
    assert status == 201, body
    got = wait_dates(gw, bob["api_key"], cid, "the lead time of the date rule",
                     lambda d: d.get(birthday, {}).get("remind_before") == ["P7D", "PT0S"])
    assert got[anniversary]["remind_before"] == ["P7D", "PT0S"]
    assert got[birthday]["next_fire_at"] == "2027-02-20T16:00:00.000Z", got[birthday]
    status, _, body = call(gw, admin, "DELETE", f"/api/v1/rules/{body['id']}")
    assert status == 200, body
    wait_dates(gw, bob["api_key"], cid, "the default lead time again",
               lambda d: d.get(birthday, {}).get("remind_before") == ["P3D", "PT0S"])

    # Bob works in Berlin: his dates move to his zone's midnight.
    status, _, body = call(gw, bob["api_key"], "PUT", "/api/v1/users/me/preferences",
                           {"time_zone": "Europe/Berlin"})
    assert status == 200, body
    got = wait_dates(gw, bob["api_key"], cid, "the dates in bob's zone",
                     lambda d: d.get(birthday, {}).get("time_zone") == "Europe/Berlin")
    assert got[birthday]["next_fire_at"] == "2027-02-24T23:00:00.000Z"  # 28 Feb 00:00 CET - 3 d
    assert got[anniversary]["time_zone"] == "Europe/Berlin"

    # The birthday moved: the same reminder, its time with it.
    status, _, body = call(gw, admin, "PATCH", f"{CUSTOMERS}/{cid}/contacts/{contact['id']}",
                           {"birthday": "1984-07-15"})
    assert status == 200, body
    wait_dates(gw, bob["api_key"], cid, "the birthday moved",
               lambda d: d.get(birthday, {}).get("due_at", "").startswith("2000-07-14T22:00"))

    # The contact removed: its birthday is cancelled; archived: all are.
    status, _, body = call(gw, admin, "DELETE", f"{CUSTOMERS}/{cid}/contacts/{contact['id']}")
    assert status == 200, body
    wait_dates(gw, bob["api_key"], cid, "the birthday cancelled",
               lambda d: d.get(birthday, {}).get("state") == "cancelled")
    status, _, body = call(gw, admin, "DELETE", f"{CUSTOMERS}/{cid}")
    assert status == 200, body
    got = wait_dates(gw, bob["api_key"], cid, "the anniversary cancelled",
                     lambda d: d.get(anniversary, {}).get("state") == "cancelled")
    assert got[anniversary]["next_fire_at"] is None

    # Nothing in the journal is a reminder.* event: they are derived.
    with stack.broker.client() as client:
        assert not [e for e in client.read_all()[0] if e["type"].startswith("reminder.")]
