"""Issue 17, the first slice: the inbox (docs/notifications.md).

Real processes: the broker, rapport-users, rapport-customers,
rapport-reminders, two rapport-notifications and rapport-gateway. A
one-off reminder due in a second on the real clock fires and is in its
assignee's inbox on EVERY notifications instance (each answer names the
instance that gave it); read-all zeroes the unread count; nobody else
reads or marks it (404); a customer assigned to bob is in his inbox by
its Chinese name; a follow-up rule's derived reminder fires into its
owner's inbox and its escalation into the manager's; the SSE stream pushes
new entries and resumes; a short retention purges entries alike everywhere.
"""

import http.client
import json
import os
import time

import pytest

from conftest import SLOW, build_path, wait_until
from opportunities_story import call, ok, problem
from process import ServiceProcess
from test_gateway import ADMIN_KEY, AUTH, JSON
from test_gateway_users import bearer
from test_reminders import RemStack, people, wait_serving

NOTIF_BINARY = build_path("bin", "rapport-notifications")
NOTIFICATIONS = "/api/v1/notifications"


class Notifications(ServiceProcess):
    def __init__(self, broker, path, env=None):
        super().__init__("notifications", NOTIF_BINARY, broker, path, env=env)


class NotifStack(RemStack):
    """RemStack (users, customers, reminders, a gateway) and n notifications."""

    def __init__(self, broker_factory, tmp_path, n=2, env=None):
        if not os.access(NOTIF_BINARY, os.X_OK):
            pytest.fail(f"{NOTIF_BINARY} is not built (run make build)")
        super().__init__(broker_factory, tmp_path, customers=True)
        self.notifications = [Notifications(self.broker, tmp_path / f"notifications{i}", env=env)
                              for i in range(n)]
        self.procs[1:1] = self.notifications
        wait_serving(self.broker, "notifications")


@pytest.fixture
def stack(broker_factory, tmp_path):
    s = NotifStack(broker_factory, tmp_path)
    yield s
    s.stop()


def soon(seconds=1.0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def inbox(gw, key, **query):
    path = NOTIFICATIONS + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return ok(call(gw, key, "GET", path))


def assign(gw, name, owner):
    """A new customer named name, assigned to owner by the admin: (it, the seq)."""
    status, _, c = gw.json("POST", "/api/v1/customers", {"name": name}, {**AUTH, **JSON})
    assert status == 201, c
    status, headers, got = gw.json("POST", f"/api/v1/customers/{c['id']}/assign",
                                   {"owner": owner["id"]}, {**AUTH, **JSON})
    assert status == 200, got
    return c, int(headers["x-rapport-seq"])


def on_every_instance(stack, user, seq, predicate):
    """notifications.list over MDP with min_seq until each instance has answered
    with predicate true: the instances' answers, by instance."""
    seen = {}
    actor = {"user": user["id"], "role": user["role"], "team": user["team"]}
    with stack.broker.client() as client:
        def all_answered():
            reply = client.call("notifications", "notifications.list", {}, actor=actor,
                                min_seq=seq)
            assert reply["status"] == 200, reply
            if predicate(reply["data"]):
                seen[reply["instance"]] = reply["data"]
            return len(seen) == len(stack.notifications)
        wait_until(all_answered, 15 * SLOW, interval=0.01, what="every instance's answer")
    return seen


def test_fired_reminder_everywhere_read_all_and_scope(stack):
    gw = stack.gateways[0]
    _, ann, bob, _ = people(gw)
    r = ok(call(gw, ann["api_key"], "POST", "/api/v1/reminders",
                {"subject": "回访王总：报价单", "due_at": soon(1.0)}), 201)

    def fired():
        page = inbox(gw, ann["api_key"])
        return page if page["items"] else None
    page = wait_until(fired, 15 * SLOW, interval=0.1, what="the firing in ann's inbox")
    entry = page["items"][0]
    assert entry["kind"] == "reminder.fired" and entry["title"] == "回访王总：报价单", entry
    assert entry["record"] == {"type": "reminder", "id": r["id"]}
    assert entry["user"] == ann["id"] and entry["read_at"] is None and not entry["archived"]
    assert entry["id"] == f"n{entry['seq']}" and page["unread_count"] == 1

    # Alike on every instance: the same entry, byte for byte as JSON.
    seen = on_every_instance(stack, ann, entry["seq"],
                             lambda data: any(e["id"] == entry["id"] for e in data["items"]))
    assert len(seen) == 2
    firsts = [data["items"][0] for data in seen.values()]
    assert firsts[0] == firsts[1]

    # bob sees nothing of it and can neither read nor archive it.
    assert inbox(gw, bob["api_key"])["items"] == []
    problem(call(gw, bob["api_key"], "POST", f"{NOTIFICATIONS}/{entry['id']}/read"),
            404, "not_found")
    problem(call(gw, bob["api_key"], "POST", f"{NOTIFICATIONS}/{entry['id']}/archive"),
            404, "not_found")
    problem(call(gw, ann["api_key"], "POST", f"{NOTIFICATIONS}/n999999/read"),
            404, "not_found")

    # unread=true lists it; read-all zeroes the count; unread=true is empty.
    assert [e["id"] for e in inbox(gw, ann["api_key"], unread="true")["items"]] == [entry["id"]]
    status, headers, body = call(gw, ann["api_key"], "POST", f"{NOTIFICATIONS}/read-all",
                                 **{"Idempotency-Key": "ra-1"})
    assert status == 200 and body == {"user": ann["id"], "unread_count": 0}, body
    assert int(headers["x-rapport-seq"]) > entry["seq"]
    page = inbox(gw, ann["api_key"])
    assert page["unread_count"] == 0 and page["items"][0]["read_at"] is not None
    assert inbox(gw, ann["api_key"], unread="true")["items"] == []

    # Archive with If-Match: a stale version is 412; then out of the list.
    version = page["items"][0]["version"]
    path = f"{NOTIFICATIONS}/{entry['id']}/archive"
    problem(call(gw, ann["api_key"], "POST", path, **{"If-Match": f'"{version + 5}"'}),
            412, "version_mismatch")
    status, headers, got = call(gw, ann["api_key"], "POST", path, {},
                                **{"If-Match": f'"{version}"'})
    assert status == 200 and got["archived"] is True, got
    assert headers["etag"] == f'"{version + 1}"'
    assert inbox(gw, ann["api_key"])["items"] == []

    with stack.broker.client() as client:
        types = [e["type"] for e in client.read_all()[0] if e["type"].startswith("notification.")]
    assert "notification.read_all" in types and "notification.archived" in types


def test_customer_assigned_and_read(stack):
    gw = stack.gateways[0]
    _, ann, bob, _ = people(gw)
    c, _ = assign(gw, "上海华东贸易有限公司", bob)

    def arrived():
        page = inbox(gw, bob["api_key"])
        return page if page["items"] else None
    page = wait_until(arrived, 15 * SLOW, interval=0.05, what="the assignment in bob's inbox")
    entry = page["items"][0]
    assert entry["kind"] == "customer.assigned"
    assert entry["title"] == "Customer assigned to you: 上海华东贸易有限公司", entry
    assert entry["record"] == {"type": "customer", "id": c["id"]}
    assert inbox(gw, ann["api_key"])["items"] == []
    got = ok(call(gw, bob["api_key"], "POST", f"{NOTIFICATIONS}/{entry['id']}/read"))
    assert got["read_at"] is not None and got["version"] == 2
    assert inbox(gw, bob["api_key"])["unread_count"] == 0
    # Read again: the same entry, nothing changes.
    again = ok(call(gw, bob["api_key"], "POST", f"{NOTIFICATIONS}/{entry['id']}/read"))
    assert again == got


def test_derived_follow_up_and_escalation(stack):
    """A follow-up rule's reminder has no reminder.* event of its own: its
    firing reaches the owner's inbox through the reminders fold; the
    escalation reaches the manager's, naming the owner and the customer."""
    gw = stack.gateways[0]
    mgr, ann, _, _ = people(gw)
    ok(call(gw, ADMIN_KEY, "POST", "/api/v1/rules", {
        "name": "重点客户未跟进", "condition": {"type": "idle", "duration": "PT1S", "grade": "A"},
        "action": {"subject": "回访重点客户"}, "escalation": {"after": "PT2S"}}), 201)
    c = ok(call(gw, ADMIN_KEY, "POST", "/api/v1/customers",
                {"name": "甲方科技有限公司", "owner": ann["id"], "team": "east", "grade": "A"}), 201)

    def of_kind(user, kind):
        return [e for e in inbox(gw, user["api_key"])["items"] if e["kind"] == kind]
    fired, = wait_until(lambda: of_kind(ann, "reminder.fired"), 15 * SLOW, interval=0.1,
                        what="the follow-up's firing in ann's inbox")
    assert fired["title"] == "回访重点客户" and "甲方科技有限公司" in fired["body"], fired
    esc, = wait_until(lambda: of_kind(mgr, "rule.escalated"), 15 * SLOW, interval=0.1,
                      what="the escalation in the manager's inbox")
    assert esc["title"] == "Follow-up overdue: 销售甲 — 甲方科技有限公司", esc
    assert esc["record"] == {"type": "customer", "id": c["id"]}
    assert of_kind(ann, "rule.escalated") == []


class Stream:
    """GET /api/v1/notifications/stream as Server-Sent Events."""

    def __init__(self, gw, key, last_event_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10 * SLOW)
        headers = {**bearer(key), "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", f"{NOTIFICATIONS}/stream", headers=headers)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.read()
        assert self.resp.getheader("Content-Type").startswith("text/event-stream")

    def next_entry(self):
        """The next frame's (id, entry), heartbeats skipped."""
        fields = {}
        while True:
            line = self.resp.readline()
            assert line, "the stream ended"
            line = line.decode("utf-8").rstrip("\n")
            if not line:
                if fields:
                    return int(fields["id"]), json.loads(fields["data"])
                continue
            if not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value

    def close(self):
        self.conn.close()


def test_stream_pushes_entries_and_resumes(stack):
    gw = stack.gateways[0]
    _, ann, _, _ = people(gw)
    stream = Stream(gw, ann["api_key"])
    try:
        r = ok(call(gw, ann["api_key"], "POST", "/api/v1/reminders",
                    {"subject": "推送：明早拜访", "due_at": soon(1.0)}), 201)
        seq, entry = stream.next_entry()
        assert entry["kind"] == "reminder.fired" and entry["title"] == "推送：明早拜访", entry
        assert entry["record"]["id"] == r["id"] and seq == entry["seq"]
    finally:
        stream.close()
    # Resumed after it: only what came since (a customer assigned to ann).
    c, _ = assign(gw, "深圳前海物流", ann)
    stream = Stream(gw, ann["api_key"], last_event_id=seq)
    try:
        later, got = stream.next_entry()
        assert later > seq and got["kind"] == "customer.assigned", got
        assert got["record"]["id"] == c["id"]
    finally:
        stream.close()
    # Without Accept: text/event-stream, one answer: the entries, oldest first.
    page = inbox(gw, ann["api_key"])
    status, _, body = call(gw, ann["api_key"], "GET", f"{NOTIFICATIONS}/stream")
    assert status == 200 and [e["id"] for e in body["items"]] == \
        [e["id"] for e in reversed(page["items"])], body
    assert body["more"] is False and body["next_after"] == later


def test_retention_purges_everywhere(broker_factory, tmp_path):
    stack = NotifStack(broker_factory, tmp_path, env={"RAPPORT_NOTIFICATIONS_RETENTION": "PT2S",
                                                      "RAPPORT_NOTIFICATIONS_PURGE_EVERY": "PT1S"})
    try:
        gw = stack.gateways[0]
        _, _, bob, _ = people(gw)
        _, seq = assign(gw, "北京远景科技", bob)
        seen = on_every_instance(stack, bob, seq, lambda data: len(data["items"]) == 1)
        assert len(seen) == 2

        # Two seconds on, a purge removes it on every instance.
        wait_until(lambda: inbox(gw, bob["api_key"])["items"] == [], 15 * SLOW, interval=0.2,
                   what="the entry purged")
        with stack.broker.client() as client:
            events, head = client.read_all(from_seq=seq)
        assert any(e["type"] == "notification.purged" for e in events)
        seen = on_every_instance(stack, bob, head,
                                 lambda data: data["items"] == [] and data["unread_count"] == 0)
        assert len(seen) == 2
    finally:
        stack.stop()
