"""Issue 13: GET/PUT /api/v1/users/me/preferences — the caller's time zone,
locale and currency, checked (IANA zone, BCP 47 tag, ISO 4217 code: 422
with field errors otherwise), stored by the users service as the journal
event user.preferences_set, and the same on a replica that replays it.

Real processes: the broker, rapport-users (then a second instance),
rapport-gateway; HTTP with http.client, the journal read over MDP.
"""

import pytest

from test_gateway import AUTH, JSON, assert_problem
from test_gateway_users import Stack, Users, bearer, create_user
from test_users import wait_serving

PREFS = "/api/v1/users/me/preferences"


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = Stack(broker_factory, tmp_path, customers=False, gateways=1)
    yield s
    s.stop()


def put(gw, key, body, **headers):
    return gw.json("PUT", PREFS, body, {**bearer(key), **JSON, **headers})


def test_preferences_set_read_and_checked(stack, tmp_path):
    gw = stack.gateways[0]
    ann = create_user(gw, name="王芳", email="wang.fang@example.cn", role="sales", team="east")
    bob = create_user(gw, name="Bob", email="bob@example.cn", role="readonly", team="east")

    # Never set: every setting null, version 0, ETag "0".
    status, headers, body = gw.json("GET", PREFS, headers=bearer(ann["api_key"]))
    assert status == 200, body
    assert body["id"] == ann["id"] and body["version"] == 0
    assert body["time_zone"] is None and body["locale"] is None and body["currency"] is None
    assert headers["etag"] == '"0"'

    # Set, in canonical spelling; read back by its owner alone.
    status, headers, body = put(gw, ann["api_key"],
                                {"time_zone": "Asia/Shanghai", "locale": "ZH-hans-cn",
                                 "currency": "cny"}, **{"Idempotency-Key": "prefs-1"})
    assert status == 200, body
    assert (body["time_zone"], body["locale"], body["currency"]) == \
        ("Asia/Shanghai", "zh-Hans-CN", "CNY")
    assert body["version"] == 1 and headers["etag"] == '"1"'
    seq = int(headers["x-rapport-seq"])
    again = put(gw, ann["api_key"], {"time_zone": "Asia/Shanghai", "locale": "ZH-hans-cn",
                                     "currency": "cny"}, **{"Idempotency-Key": "prefs-1"})
    assert again[0] == 200 and int(again[1]["x-rapport-seq"]) == seq and again[2]["version"] == 1
    status, _, body = gw.json("GET", PREFS, headers=bearer(ann["api_key"]))
    assert status == 200 and body["currency"] == "CNY" and body["version"] == 1
    status, _, body = gw.json("GET", PREFS, headers=bearer(bob["api_key"]))
    assert status == 200 and body["id"] == bob["id"] and body["version"] == 0

    # Every bad value named, nothing stored.
    status, headers, raw = gw.request("PUT", PREFS, {"time_zone": "Mars/Olympus",
                                                      "locale": "en_US", "currency": "XXX",
                                                      "colour": "blue"},
                                      {**bearer(ann["api_key"]), **JSON})
    problem = assert_problem(status, headers, raw, 422, "invalid")
    errors = {e["field"]: e["code"] for e in problem["errors"]}
    assert errors == {"time_zone": "invalid", "locale": "invalid", "currency": "invalid",
                      "colour": "unknown"}, problem
    for bad in ({"time_zone": "../../etc/passwd"}, {"time_zone": "asia/shanghai"},
                {"time_zone": 8}, {"locale": "e"}, {"currency": "元"}, {"version": 3}):
        status, headers, raw = gw.request("PUT", PREFS, bad, {**bearer(ann["api_key"]), **JSON})
        assert_problem(status, headers, raw, 422, "invalid")
    status, _, body = gw.json("GET", PREFS, headers=bearer(ann["api_key"]))
    assert body["time_zone"] == "Asia/Shanghai" and body["version"] == 1

    # If-Match: a stale version is 412; a PUT clears what it leaves out.
    status, headers, raw = gw.request("PUT", PREFS, {"time_zone": "UTC"},
                                      {**bearer(ann["api_key"]), **JSON, "If-Match": '"0"'})
    assert_problem(status, headers, raw, 412)
    status, _, body = put(gw, ann["api_key"], {"time_zone": "Europe/Paris"}, **{"If-Match": '"1"'})
    assert status == 200, body
    assert body["time_zone"] == "Europe/Paris" and body["locale"] is None
    assert body["currency"] is None and body["version"] == 2

    # Readonly users set their own too; no key, no preferences.
    assert put(gw, bob["api_key"], {"locale": "en"})[0] == 200
    assert gw.request("GET", PREFS)[0] == 401

    # The journal holds one event per change, the user's id as subject.
    with stack.broker.client() as client:
        events = [e for e in client.read_all()[0] if e["type"] == "user.preferences_set"]
    assert [e["subject"] for e in events] == [ann["id"], ann["id"], bob["id"]]
    assert events[0]["data"]["preferences"] == {"time_zone": "Asia/Shanghai",
                                               "locale": "zh-Hans-CN", "currency": "CNY"}

    # A new instance replays the journal and answers the same once it is
    # the only one left.
    first = stack.procs[0]
    replica = Users(stack.broker, tmp_path / "users1")
    stack.procs.append(replica)
    head = events[-1]["seq"]
    with stack.broker.client() as client:
        wait_serving(client, readers=2, standbys=1)
        assert first.stop() == 0
        wait_serving(client, readers=1, standbys=0)
        r = client.call("users", "users.preferences", {"id": ann["id"]}, min_seq=head,
                        actor={"user": ann["id"], "role": "sales", "team": "east"})
    assert r["status"] == 200 and r["data"]["time_zone"] == "Europe/Paris", r
    assert r["data"]["version"] == 2
