"""The users service (rapport-users) over MDP against the real broker.

Each instance runs as its own process with its own RAPPORT_DATA_DIR. Writes go
to "users.writer" (the lease holder), reads to "users" (any instance, min_seq
honoured). The actor {user, role, team} rides in each request. API keys are
answered once in clear; the journal holds only their SHA-256.
"""

import hashlib
import os
import re
import time

import msgpack
import pytest

from conftest import SLOW, UNDER_ASAN, build_path, wait_until
from process import ServiceProcess

BINARY = build_path("bin", "rapport-users")
TAKEOVER_S = 10.0 + (5.0 if UNDER_ASAN else 0.0)
KEY = re.compile(r"^rpk_[0-9a-f]{64}$")
RECORD_KEYS = {"id", "name", "email", "role", "team", "manager_id", "active", "version",
               "created_at", "updated_at"}

ADMIN = {"user": "admin", "role": "admin", "team": ""}


class Users(ServiceProcess):
    """One rapport-users process with its own data dir and log."""

    def __init__(self, broker, path):
        super().__init__("users", BINARY, broker, path)


@pytest.fixture
def users(broker, tmp_path):
    """start() → a new instance; all must exit 0 on SIGTERM at the end."""
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY} is not built (run make build)")
    started = []

    def start():
        u = Users(broker, tmp_path / f"users{len(started)}")
        started.append(u)
        return u

    yield start
    failures = []
    for u in started:
        if not u.killed:
            code = u.stop()
            if code != 0:
                failures.append(f"users {u.pid} exited with {code}\n" + u.log_tail())
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def wait_serving(client, readers, standbys=None, timeout=15.0):
    def ready():
        if client.mmi("users") != "200" or client.mmi("users.writer") != "200":
            return False
        status = client.status()
        lease = status["leases"].get("users")
        return (status["services"]["users"]["workers"] == readers and lease
                and lease["holder"] and (standbys is None or lease["standbys"] == standbys))
    wait_until(ready, timeout * SLOW, interval=0.05, what=f"{readers} users instances")


def write(client, op, args, actor=ADMIN, timeout=10.0, **envelope):
    """A request to the writer; actor None sends none."""
    if actor is not None:
        envelope["actor"] = actor
    return client.call("users.writer", op, args, timeout, **envelope)


def read(client, op, args, actor=ADMIN, timeout=10.0, **envelope):
    """A request to any instance; actor None sends none."""
    if actor is not None:
        envelope["actor"] = actor
    return client.call("users", op, args, timeout, **envelope)


def create(client, actor=ADMIN, **fields):
    return write(client, "users.create", fields, actor)


def sha256(key):
    return hashlib.sha256(key.encode()).hexdigest()


def actor_of(user):
    return {"user": user["id"], "role": user["role"], "team": user["team"]}


def assert_created(r, **fields):
    assert r["status"] == 200, r
    user, key = r["data"]["user"], r["data"]["key"]
    assert set(user) == RECORD_KEYS, user
    assert KEY.match(key), key
    for name, value in fields.items():
        assert user[name] == value, (name, user)
    return user, key


def journal_bytes(client):
    events, _ = client.read_all()
    return events, msgpack.packb(events, use_bin_type=True)


def test_create_get_keys_and_validation(broker, users):
    users()
    with broker.client() as client:
        wait_serving(client, readers=1)
        r = create(client, name="王经理", email="  Wang.Li@Example.CN ", role="manager",
                   team="east")
        mgr, mgr_key = assert_created(r, name="王经理", email="wang.li@example.cn",
                                      role="manager", team="east", manager_id=None,
                                      active=True, version=1)
        assert mgr["created_at"] == mgr["updated_at"] and mgr["created_at"].endswith("Z")
        assert r["seq"] >= 1
        rep, rep_key = assert_created(
            create(client, name="Alice", email="alice@example.cn", role="sales", team="east",
                   manager_id=mgr["id"]), manager_id=mgr["id"])
        assert rep_key != mgr_key

        # The key is answered once; reads never show it nor its hash.
        g = read(client, "users.get", {"id": mgr["id"]}, min_seq=r["seq"])
        assert g["status"] == 200 and g["data"] == mgr, g
        assert read(client, "users.get", {"id": mgr["id"]}, actor_of(mgr))["data"] == mgr
        # The gateway's lookup by key hash.
        k = read(client, "users.by_key", {"key_hash": sha256(mgr_key)}, None)
        assert k["status"] == 200 and k["data"] == mgr, k
        assert read(client, "users.by_key", {"key_hash": "0" * 64})["status"] == 404
        assert read(client, "users.by_key", {"key_hash": sha256(mgr_key).upper()})[
            "status"] == 400

        # The journal has the hash of each key and never a clear key.
        events, raw = journal_bytes(client)
        created = [e for e in events if e["type"] == "user.created"]
        assert [e["subject"] for e in created] == [mgr["id"], rep["id"]], created
        assert created[0]["data"] == {
            "id": mgr["id"], "key_hash": sha256(mgr_key),
            "record": {"name": "王经理", "email": "wang.li@example.cn", "role": "manager",
                       "team": "east"}}, created[0]
        assert created[1]["data"]["key_hash"] == sha256(rep_key)
        assert created[0]["actor"] == ADMIN and created[0]["source"] == "users"
        for key in (mgr_key, rep_key):
            assert key.encode() not in raw and key[4:].encode() not in raw

        # Per-field errors, all at once; nothing reaches the journal.
        head = client.head()
        bad = create(client, name="a\x07b", email="not-an-email", role="root", team=7,
                     version=3, colour="red")
        assert bad["status"] == 422 and bad["error"]["code"] == "invalid", bad
        fields = {(e["field"], e["code"]) for e in bad["error"]["details"]["errors"]}
        assert fields == {("name", "invalid"), ("email", "invalid"), ("role", "invalid"),
                          ("team", "type"), ("version", "read_only"), ("colour", "unknown")}
        for e in bad["error"]["details"]["errors"]:
            assert e["message"], e
        missing = create(client, team="east")
        assert {(e["field"], e["code"]) for e in missing["error"]["details"]["errors"]} == {
            ("name", "required"), ("email", "required"), ("role", "required")}, missing
        long = create(client, name="名" * 67, email="x@example.cn", role="sales")  # 201 bytes
        assert long["status"] == 422, long
        assert long["error"]["details"]["errors"][0] == {
            "field": "name", "code": "too_long", "message": "the value is too long"}
        assert create(client, name="x", email="x@example.cn", role="sales",
                      team="t" * 101)["status"] == 422
        assert create(client, name=" ", email="x@example.cn", role="sales")["status"] == 422

        # E-mails are unique among active users, whatever their case.
        dup = create(client, name="Other", email="WANG.LI@example.cn", role="sales")
        assert dup["status"] == 409 and dup["error"]["code"] == "duplicate", dup
        assert dup["error"]["details"] == {"fields": ["email"], "ids": [mgr["id"]]}, dup
        # A manager must be an active manager or admin.
        for manager_id, code in (("nobody", "not_found"), (rep["id"], "not_manager"),
                                 ("bad id!", "invalid")):
            m = create(client, name="Bob", email="bob@example.cn", role="sales",
                       manager_id=manager_id)
            assert m["status"] == 422, m
            assert m["error"]["details"]["errors"][0]["field"] == "manager_id", m
            assert m["error"]["details"]["errors"][0]["code"] == code, m
        assert client.head() == head

        # Only admins create; bad envelopes and ops.
        for actor in (actor_of(mgr), actor_of(rep), {"user": "i", "role": "integrator"}, None,
                      {"user": "", "role": "admin"}, {"user": "u" * 101, "role": "admin"}):
            f = create(client, actor, name="x", email="y@example.cn", role="sales")
            assert f["status"] == 403 and f["error"]["code"] == "forbidden", (actor, f)
        assert read(client, "users.create", {"name": "x"})["status"] == 400
        assert write(client, "users.nope", {})["status"] == 400
        assert write(client, "users.create", None)["status"] == 400
        assert read(client, "users.get", {"id": 5})["status"] == 400
        assert read(client, "users.get", {"id": "nope"})["status"] == 404
        r = write(client, "users.create", {"name": "x"}, idem="i" * 200)
        assert r["status"] == 400 and r["error"]["code"] == "bad_idem", r
        for body in (b"\xc1", b"\x93\x01\x02\x03"):
            client.send("users", body)
            reply = client.recv_reply()
            assert reply["status"] == 400 and reply["error"]["code"] == "bad_request", reply
        assert client.head() == head


def test_update_rotate_revoke(broker, users):
    users()
    with broker.client() as client:
        wait_serving(client, readers=1)
        mgr, _ = assert_created(create(client, name="Mei", email="mei@example.cn",
                                       role="manager", team="east"))
        rep, rep_key = assert_created(create(client, name="Rui", email="rui@example.cn",
                                             role="sales", team="east"))

        u = write(client, "users.update", {"id": rep["id"], "version": 1,
                                           "changes": {"name": "Rui Zhang",
                                                       "email": "Rui.Zhang@Example.CN",
                                                       "manager_id": mgr["id"]}})
        assert u["status"] == 200 and u["data"]["version"] == 2, u
        assert u["data"]["email"] == "rui.zhang@example.cn" and u["data"]["manager_id"] == mgr["id"]
        assert u["data"]["created_at"] == rep["created_at"] and set(u["data"]) == RECORD_KEYS
        stale = write(client, "users.update", {"id": rep["id"], "version": 1,
                                               "changes": {"team": "west"}})
        assert stale["status"] == 412 and stale["error"]["code"] == "version_mismatch", stale
        # The old e-mail is free again; the manager's is not.
        assert create(client, name="New", email="rui@example.cn", role="readonly")["status"] == 200
        dup = write(client, "users.update", {"id": rep["id"], "changes": {"email": "mei@example.cn"}})
        assert dup["status"] == 409 and dup["error"]["details"]["ids"] == [mgr["id"]], dup
        for changes, field, code in (({"role": "boss"}, "role", "invalid"),
                                     ({"name": None}, "name", "required"),
                                     ({"active": False}, "active", "read_only"),
                                     ({"manager_id": rep["id"]}, "manager_id", "self"),
                                     ({}, "changes", "required")):
            bad = write(client, "users.update", {"id": rep["id"], "changes": changes})
            assert bad["status"] == 422, (changes, bad)
            assert bad["error"]["details"]["errors"][0]["field"] == field, bad
            assert bad["error"]["details"]["errors"][0]["code"] == code, bad
        cleared = write(client, "users.update", {"id": rep["id"],
                                                 "changes": {"manager_id": None, "team": None}})
        assert cleared["status"] == 200, cleared
        assert cleared["data"]["manager_id"] is None and cleared["data"]["team"] == ""
        assert write(client, "users.update", {"id": "nobody", "changes": {"team": "x"}})[
            "status"] == 404
        assert write(client, "users.update", {"id": rep["id"], "changes": "x"})["status"] == 400
        assert write(client, "users.update", {"id": rep["id"], "changes": {"team": "x"}},
                     actor_of(mgr))["status"] == 403

        # A user rotates their own key; only an admin rotates someone else's.
        me = actor_of(cleared["data"])
        rot = write(client, "users.rotate_key", {"id": rep["id"]}, me)
        assert rot["status"] == 200, rot
        new_key = rot["data"]["key"]
        assert KEY.match(new_key) and new_key != rep_key
        assert rot["data"]["user"]["version"] == cleared["data"]["version"] + 1
        assert read(client, "users.by_key", {"key_hash": sha256(rep_key)},
                    min_seq=rot["seq"])["status"] == 404
        assert read(client, "users.by_key", {"key_hash": sha256(new_key)})["data"]["id"] == rep["id"]
        f = write(client, "users.rotate_key", {"id": mgr["id"]}, me)
        assert f["status"] == 403 and f["error"]["code"] == "forbidden", f
        assert write(client, "users.rotate_key", {"id": "nobody"})["status"] == 404
        by_admin = write(client, "users.rotate_key", {"id": rep["id"]})
        assert by_admin["status"] == 200 and by_admin["data"]["key"] != new_key, by_admin
        last_key = by_admin["data"]["key"]

        # Revoke: inactive, key dead, e-mail free, no further changes.
        version = by_admin["data"]["user"]["version"]
        stale = write(client, "users.revoke", {"id": rep["id"], "version": version - 1})
        assert stale["status"] == 412, stale
        assert write(client, "users.revoke", {"id": rep["id"]}, me)["status"] == 403
        rv = write(client, "users.revoke", {"id": rep["id"], "version": version})
        assert rv["status"] == 200, rv
        assert rv["data"]["active"] is False and rv["data"]["version"] == version + 1, rv
        assert read(client, "users.by_key", {"key_hash": sha256(last_key)},
                    min_seq=rv["seq"])["status"] == 404
        again = write(client, "users.revoke", {"id": rep["id"]})
        assert again["status"] == 200 and again["data"]["version"] == version + 1, again
        r = write(client, "users.update", {"id": rep["id"], "changes": {"team": "x"}})
        assert r["status"] == 409 and r["error"]["code"] == "revoked", r
        assert write(client, "users.rotate_key", {"id": rep["id"]})["status"] == 409
        assert read(client, "users.get", {"id": rep["id"]})["data"]["active"] is False
        reuse = create(client, name="Rui 2", email="rui.zhang@example.cn", role="sales")
        assert reuse["status"] == 200, reuse

        # The journal: every change once, key hashes only.
        events, raw = journal_bytes(client)
        mine = [e for e in events if e["subject"] == rep["id"]]
        assert [e["type"] for e in mine] == [
            "user.created", "user.updated", "user.updated", "user.key_rotated",
            "user.key_rotated", "user.revoked", "user.revoked"], [e["type"] for e in mine]
        assert mine[1]["data"] == {"id": rep["id"], "expected_version": 1,
                                   "changes": {"name": "Rui Zhang",
                                               "email": "rui.zhang@example.cn",
                                               "manager_id": mgr["id"]}}, mine[1]
        assert mine[3]["data"] == {"id": rep["id"], "key_hash": sha256(new_key)}
        assert mine[3]["actor"] == me
        assert mine[4]["data"]["key_hash"] == sha256(last_key)
        assert mine[5]["data"] == {"id": rep["id"], "expected_version": version}
        for key in (rep_key, new_key, last_key):
            assert key.encode() not in raw and key[4:].encode() not in raw


def test_scoping_list_and_idempotent_retry(broker, users):
    users()
    with broker.client() as client:
        wait_serving(client, readers=1)
        east_mgr, _ = assert_created(create(client, name="East M", email="em@example.cn",
                                            role="manager", team="east"))
        east = [assert_created(create(client, name=f"东区销售{i}", email=f"e{i}@example.cn",
                                      role="sales", team="east"))[0] for i in range(6)]
        ro, _ = assert_created(create(client, name="RO", email="ro@example.cn",
                                      role="readonly", team="east"))
        west, _ = assert_created(create(client, name="West", email="w@example.cn",
                                        role="integrator", team="west"))
        r = write(client, "users.revoke", {"id": east[5]["id"]})
        assert r["status"] == 200
        last = r["seq"]

        def list_all(actor, page=3, **filters):
            items, cursor, pages = [], None, 0
            while True:
                args = dict(filters, limit=page)
                if cursor:
                    args["cursor"] = cursor
                r = read(client, "users.list", args, actor, min_seq=last)
                assert r["status"] == 200, r
                items += r["data"]["items"]
                cursor = r["data"]["next_cursor"]
                pages += 1
                assert pages < 50
                if not cursor:
                    return [i["id"] for i in items]

        active_east = [east_mgr["id"]] + [u["id"] for u in east[:5]] + [ro["id"]]
        # Lists walk ids in order (= creation order, up to the same millisecond).
        assert list_all(ADMIN) == sorted(active_east + [west["id"]])
        assert list_all(ADMIN, include_revoked=True) == sorted(active_east + [west["id"],
                                                                              east[5]["id"]])
        assert list_all(actor_of(east_mgr)) == sorted(active_east)
        assert list_all(actor_of(east_mgr), role="sales") == sorted(u["id"] for u in east[:5])
        assert list_all(ADMIN, team="west") == [west["id"]]
        for u in (east[0], ro, west):  # everyone else: only themselves
            assert list_all(actor_of(u)) == [u["id"]]
        assert read(client, "users.get", {"id": east[1]["id"]}, actor_of(east_mgr))[
            "status"] == 200
        assert read(client, "users.get", {"id": west["id"]}, actor_of(east_mgr))["status"] == 404
        assert read(client, "users.get", {"id": east[1]["id"]}, actor_of(east[0]))[
            "status"] == 404
        assert read(client, "users.get", {"id": east_mgr["id"]}, actor_of(ro))["status"] == 404
        assert read(client, "users.get", {"id": ro["id"]}, actor_of(ro))["status"] == 200
        assert read(client, "users.get", {"id": ro["id"]}, None)["status"] == 404
        assert read(client, "users.list", {}, None)["status"] == 403
        for args, field in (({"limit": 201}, "limit"), ({"role": "boss"}, "role"),
                            ({"include_revoked": "yes"}, "include_revoked"),
                            ({"team": 5}, "team")):
            r = read(client, "users.list", args)
            assert r["status"] == 422, (args, r)
            assert r["error"]["details"]["errors"][0]["field"] == field, r

        # An idempotent retry answers the first outcome: the same user and
        # seq, but not the key (it was answered once and never stored).
        args = {"name": "重试", "email": "retry@example.cn", "role": "sales"}
        first = write(client, "users.create", args, idem="u-1")
        again = write(client, "users.create", args, idem="u-1")
        user, key = assert_created(first)
        assert again["status"] == 200 and again["seq"] == first["seq"], again
        assert again["data"] == {"user": user, "key": None}, again
        rot1 = write(client, "users.rotate_key", {"id": user["id"]}, idem="u-2")
        rot2 = write(client, "users.rotate_key", {"id": user["id"]}, idem="u-2")
        assert KEY.match(rot1["data"]["key"]) and rot2["data"]["key"] is None, rot2
        assert rot2["seq"] == rot1["seq"] and rot2["data"]["user"] == rot1["data"]["user"]
        # A refusal is retried as a refusal, even after the state changed.
        d1 = write(client, "users.create", dict(args, name="Dup"), idem="u-3")
        assert d1["status"] == 409 and d1["error"]["code"] == "duplicate", d1
        assert write(client, "users.revoke", {"id": user["id"]})["status"] == 200
        d2 = write(client, "users.create", dict(args, name="Dup"), idem="u-3")
        assert d2["status"] == 409 and d2["error"] == d1["error"] and d2["seq"] == d1["seq"], d2
        u1 = write(client, "users.update", {"id": east[0]["id"], "version": 1,
                                            "changes": {"team": "west"}}, idem="u-4")
        u2 = write(client, "users.update", {"id": east[0]["id"], "version": 1,
                                            "changes": {"team": "west"}}, idem="u-4")
        assert u1["status"] == u2["status"] == 200 and u2["seq"] == u1["seq"], (u1, u2)
        events, _ = client.read_all()
        retried = [e for e in events if e["type"] == "user.created"
                   and e["data"]["record"]["email"] == "retry@example.cn"]
        assert len(retried) == 2  # the first, and the refused duplicate


def test_two_instances_and_failover(broker, users):
    with broker.client() as client:
        writer = users()
        wait_serving(client, readers=1)
        standby = users()
        wait_serving(client, readers=2, standbys=1)

        user, key = assert_created(create(client, name="李雷", email="li.lei@example.cn",
                                          role="sales", team="north"))
        seq = client.head()
        for _ in range(10):  # both instances answer, each having applied the write
            g = read(client, "users.get", {"id": user["id"]}, min_seq=seq)
            assert g["status"] == 200 and g["data"] == user, g
            k = read(client, "users.by_key", {"key_hash": sha256(key)}, min_seq=seq)
            assert k["status"] == 200 and k["data"]["id"] == user["id"], k

        writer.kill9()
        killed = time.monotonic()
        done = None
        while done is None:
            assert time.monotonic() - killed < TAKEOVER_S, "no takeover"
            try:
                r = write(client, "users.rotate_key", {"id": user["id"]}, timeout=3.0 * SLOW,
                          idem="after-kill")
            except TimeoutError:
                continue
            if r["status"] == 200:
                done = r
            else:
                assert r["status"] in (503, 504), r
                time.sleep(0.05)
        assert done["data"]["user"]["version"] == 2, done
        assert KEY.match(done["data"]["key"]) or done["data"]["key"] is None
        assert read(client, "users.by_key", {"key_hash": sha256(key)},
                    min_seq=done["seq"])["status"] == 404
        assert standby.alive()
