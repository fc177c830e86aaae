"""The customers service (rapport-customers) over MDP against the real broker.

Each instance runs as its own process with its own RAPPORT_DATA_DIR. Writes go
to "customers.writer" (the lease holder), reads to "customers" (any instance,
min_seq honoured). The actor {user, role, team} rides in each request.
"""

import os
import threading
import time

import pytest

from conftest import SLOW, UNDER_ASAN, build_path, wait_until
from process import ServiceProcess

BINARY = build_path("bin", "rapport-customers")
TAKEOVER_S = 10.0 + (5.0 if UNDER_ASAN else 0.0)

ADMIN = {"user": "root", "role": "admin", "team": "hq"}
MANAGER = {"user": "mei", "role": "manager", "team": "east"}
SALES_A = {"user": "alice", "role": "sales", "team": "east"}
SALES_B = {"user": "bob", "role": "sales", "team": "east"}


class Customers(ServiceProcess):
    """One rapport-customers process with its own data dir and log."""

    def __init__(self, broker, path, env=None):
        super().__init__("customers", BINARY, broker, path, env=env)


@pytest.fixture
def customers(broker, tmp_path):
    """start() → a new instance; all must exit 0 on SIGTERM at the end."""
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY} is not built (run make build)")
    started = []

    def start(path=None):
        """A new instance; with path, one that reopens that data dir."""
        c = Customers(broker, path or tmp_path / f"customers{len(started)}")
        started.append(c)
        return c

    yield start
    failures = []
    for c in started:
        if not c.killed:
            code = c.stop()
            if code != 0:
                failures.append(f"customers {c.pid} exited with {code}\n" + c.log_tail())
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def wait_serving(client, readers, standbys=None, timeout=15.0):
    def ready():
        if client.mmi("customers") != "200" or client.mmi("customers.writer") != "200":
            return False
        status = client.status()
        lease = status["leases"].get("customers")
        return (status["services"]["customers"]["workers"] == readers and lease
                and lease["holder"] and (standbys is None or lease["standbys"] == standbys))
    wait_until(ready, timeout * SLOW, interval=0.05, what=f"{readers} customers instances")


def write(client, op, args, actor, timeout=10.0, **envelope):
    return client.call("customers.writer", op, args, timeout, actor=actor, **envelope)


def read(client, op, args, actor, timeout=10.0, **envelope):
    return client.call("customers", op, args, timeout, actor=actor, **envelope)


def create(client, actor, **fields):
    return write(client, "customers.create", fields, actor)


# -- one instance ---------------------------------------------------------------


def test_create_get_normalize_and_validate(broker, customers):
    customers()
    with broker.client() as client:
        wait_serving(client, readers=1)
        name = "上海星辰贸易有限公司"
        address = "上海市浦东新区世纪大道100号 环球金融中心 21楼"
        r = create(client, SALES_A, name=name, short_name="星辰", address=address,
                   mobile="138-0013-8000", phone="(021) 5888 1234",
                   email="  Zhang.Wei@XingChen.CN ", grade="A", tier="key",
                   registered_on="2019/05/20", tags=["华东", "vip"],
                   custom={"erp_id": "E-1", "employees": 120}, credit_limit=500000,
                   tax_id="91310000MA1FL0001X")
        assert r["status"] == 200, r
        c = r["data"]
        assert r["seq"] >= 1
        assert c["name"] == name and c["address"] == address and c["short_name"] == "星辰"
        assert c["name"].encode() == name.encode()
        assert c["mobile"] == "+8613800138000" and c["phone"] == "+862158881234", c
        assert c["email"] == "zhang.wei@xingchen.cn" and c["registered_on"] == "2019-05-20"
        assert c["owner"] == "alice" and c["team"] == "east", c
        assert c["code"] == "C000001" and c["version"] == 1 and c["archived"] is False
        assert c["created_at"] == c["updated_at"] and c["created_at"].endswith("Z")
        assert c["tags"] == ["华东", "vip"] and c["custom"] == {"erp_id": "E-1", "employees": 120}

        g = read(client, "customers.get", {"id": c["id"]}, SALES_A, min_seq=r["seq"])
        assert g["status"] == 200 and g["data"] == c, g

        # The event is in the journal with its schema.
        events, _ = client.read_all()
        created = [e for e in events if e["type"] == "customer.created"]
        assert len(created) == 1 and created[0]["subject"] == c["id"], created
        assert created[0]["data"]["record"]["name"] == name
        assert created[0]["actor"] == SALES_A

        # Per-field errors, all at once; nothing reaches the journal.
        head = client.head()
        bad = create(client, SALES_A, name="", mobile="12345", email="not-an-email",
                     grade="F", tier="vip", registered_on="2023-02-30", credit_limit=-1,
                     version=3, colour="red")
        assert bad["status"] == 422 and bad["error"]["code"] == "invalid", bad
        fields = {(e["field"], e["code"]) for e in bad["error"]["details"]["errors"]}
        assert {("name", "required"), ("mobile", "invalid"), ("email", "invalid"),
                ("grade", "invalid"), ("tier", "invalid"), ("registered_on", "invalid"),
                ("credit_limit", "out_of_range"), ("version", "read_only"),
                ("colour", "unknown")} == fields, fields
        for e in bad["error"]["details"]["errors"]:
            assert e["message"], e
        missing = create(client, SALES_A, short_name="x")
        assert missing["status"] == 422, missing
        assert missing["error"]["details"]["errors"][0]["field"] == "name"
        assert client.head() == head

        # A duplicate tax id is a 409 listing the holder; a chosen code too.
        dup = create(client, SALES_B, name="另一家公司", tax_id="91310000MA1FL0001X")
        assert dup["status"] == 409 and dup["error"]["code"] == "duplicate", dup
        assert dup["error"]["details"]["ids"] == [c["id"]], dup
        assert dup["error"]["details"]["fields"] == ["tax_id"], dup
        dup = create(client, ADMIN, name="Code clash", code="C000001")
        assert dup["status"] == 409 and dup["error"]["details"]["fields"] == ["code"], dup
        own = create(client, ADMIN, name="Own code", code="C000002")
        assert own["status"] == 200 and own["data"]["code"] == "C000002", own
        auto = create(client, ADMIN, name="Auto code")
        assert auto["status"] == 200 and auto["data"]["code"] == "C000003", auto  # skips taken

        # Likely duplicates (normalized name, phone, e-mail): 409 unless allowed.
        like = create(client, SALES_A, name="上海 星辰贸易（有限公司）")
        assert like["status"] == 409 and like["error"]["code"] == "possible_duplicate", like
        assert like["error"]["details"] == {"fields": ["name"], "ids": [c["id"]]}, like
        like = create(client, SALES_B, name="别的名字", phone="+86 138 0013 8000",
                      email="ZHANG.WEI@xingchen.cn")
        assert like["status"] == 409, like
        assert like["error"]["details"] == {"fields": ["phone", "email"],
                                            "ids": [c["id"], c["id"]]}, like
        forced = create(client, SALES_B, name="上海星辰贸易", allow_duplicate=True)
        assert forced["status"] == 200 and forced["data"]["owner"] == "bob", forced
        assert "allow_duplicate" not in forced["data"]

        # Bad envelopes and ops.
        assert read(client, "customers.create", {"name": "x"}, SALES_A)["status"] == 400
        assert write(client, "customers.nope", {}, SALES_A)["status"] == 400
        assert write(client, "customers.create", None, SALES_A)["status"] == 400
        assert create(client, {"user": "ro", "role": "readonly", "team": "east"},
                      name="x")["status"] == 403
        assert create(client, {"user": "i", "role": "integrator"}, name="x")["status"] == 403
        assert read(client, "customers.get", {"id": 5}, SALES_A)["status"] == 400
        assert read(client, "customers.get", {"id": "nope"}, SALES_A)["status"] == 404
        r = write(client, "customers.create", {"name": "x"}, SALES_A, idem="i" * 200)
        assert r["status"] == 400 and r["error"]["code"] == "bad_idem", r
        # Hostile or missing actors see nothing and change nothing.
        cid = c["id"]
        assert client.call("customers", "customers.get", {"id": cid})["status"] == 404
        assert client.call("customers", "customers.list", {})["status"] == 403
        assert read(client, "customers.get", {"id": cid}, "admin")["status"] == 400  # not a map
        assert read(client, "customers.get", {"id": cid},
                    {"user": "u" * 101, "role": "admin"})["status"] == 404
        assert read(client, "customers.get", {"id": cid},
                    {"user": "root", "role": "admin", "team": 7})["status"] == 200
        assert create(client, {"user": "", "role": "admin"}, name="x")["status"] == 403
        assert write(client, "customers.update", {"id": cid, "grade": "E"},
                     {"user": "eve", "role": "sales", "team": "east"})["status"] == 404
        for body in (b"\xc1", b"\x93\x01\x02\x03"):
            client.send("customers", body)
            reply = client.recv_reply()
            assert reply["status"] == 400 and reply["error"]["code"] == "bad_request", reply
        assert client.head() == forced["seq"]


def test_update_version_archive_restore(broker, customers):
    customers()
    with broker.client() as client:
        wait_serving(client, readers=1)
        c = create(client, SALES_A, name="杭州云帆科技", tax_id="T-1")["data"]
        other = create(client, SALES_A, name="苏州明远", tax_id="T-2")["data"]

        u = write(client, "customers.update",
                  {"id": c["id"], "version": 1, "grade": "B", "email": "INFO@YunFan.com",
                   "short_name": None}, SALES_A)
        assert u["status"] == 200 and u["data"]["version"] == 2, u
        assert u["data"]["grade"] == "B" and u["data"]["email"] == "info@yunfan.com"
        assert u["data"]["name"] == "杭州云帆科技" and u["data"]["created_at"] == c["created_at"]

        stale = write(client, "customers.update", {"id": c["id"], "version": 1, "grade": "C"},
                      SALES_A)
        assert stale["status"] == 412 and stale["error"]["code"] == "version_mismatch", stale
        assert write(client, "customers.update", {"id": c["id"], "tier": "gold"},
                     SALES_A)["status"] == 422
        assert write(client, "customers.update", {"id": c["id"], "name": None},
                     SALES_A)["status"] == 422
        dup = write(client, "customers.update", {"id": c["id"], "tax_id": "T-2"}, SALES_A)
        assert dup["status"] == 409 and dup["error"]["details"]["ids"] == [other["id"]], dup
        # Sales cannot give a customer away; another sales cannot touch it.
        away = write(client, "customers.update", {"id": c["id"], "owner": "bob"}, SALES_A)
        assert away["status"] == 422 and away["error"]["details"]["errors"][0]["field"] == "owner"
        assert write(client, "customers.update", {"id": c["id"], "grade": "E"},
                     SALES_B)["status"] == 404
        moved = write(client, "customers.update", {"id": c["id"], "owner": "bob"}, MANAGER)
        assert moved["status"] == 200 and moved["data"]["owner"] == "bob", moved
        assert read(client, "customers.get", {"id": c["id"]}, SALES_A,
                    min_seq=moved["seq"])["status"] == 404

        a = write(client, "customers.archive", {"id": c["id"]}, SALES_B)
        assert a["status"] == 200 and a["data"]["archived"] is True, a
        items = read(client, "customers.list", {}, MANAGER, min_seq=a["seq"])["data"]["items"]
        assert c["id"] not in [i["id"] for i in items]
        arch = read(client, "customers.list", {"archived": True}, MANAGER)["data"]["items"]
        assert [i["id"] for i in arch] == [c["id"]]
        r = write(client, "customers.restore", {"id": c["id"]}, SALES_B)
        assert r["status"] == 200 and r["data"]["archived"] is False, r
        assert r["data"]["version"] == a["data"]["version"] + 1

        events, _ = client.read_all()
        assert [e["type"] for e in events] == [
            "customer.created", "customer.created", "customer.updated", "customer.updated",
            "customer.archived", "customer.restored"], [e["type"] for e in events]


def test_scoping_list_filters_pagination_idem(broker, customers):
    customers()
    with broker.client() as client:
        wait_serving(client, readers=1)
        mine = [create(client, SALES_A, name=f"北京华夏工贸{i:02d}", grade="A" if i % 2 else "B")
                for i in range(12)]
        theirs = [create(client, SALES_B, name=f"Bob Trading {i}", short_name=f"BT{i}")
                  for i in range(3)]
        west = create(client, ADMIN, name="成都西部物流", team="west", owner="wu")
        for r in mine + theirs + [west]:
            assert r["status"] == 200, r
        last = west["seq"]

        a_id, b_id = mine[0]["data"]["id"], theirs[0]["data"]["id"]
        assert read(client, "customers.get", {"id": b_id}, SALES_A, min_seq=last)["status"] == 404
        assert read(client, "customers.get", {"id": a_id}, SALES_B)["status"] == 404
        assert read(client, "customers.get", {"id": a_id}, MANAGER)["status"] == 200
        assert read(client, "customers.get", {"id": b_id}, MANAGER)["status"] == 200
        assert read(client, "customers.get", {"id": west["data"]["id"]}, MANAGER)["status"] == 404
        assert read(client, "customers.get", {"id": west["data"]["id"]}, ADMIN)["status"] == 200
        ro = {"user": "ro", "role": "readonly", "team": "east"}
        assert read(client, "customers.get", {"id": a_id}, ro)["status"] == 200
        assert read(client, "customers.get", {"id": a_id}, {"user": "x"})["status"] == 404

        def list_all(actor, page=5, **filters):
            items, cursor, pages = [], None, 0
            while True:
                args = dict(filters, limit=page)
                if cursor:
                    args["cursor"] = cursor
                r = read(client, "customers.list", args, actor, min_seq=last)
                assert r["status"] == 200, r
                items += r["data"]["items"]
                cursor = r["data"]["next_cursor"]
                pages += 1
                assert pages < 50
                if not cursor:
                    return items, pages

        items, pages = list_all(SALES_A)
        assert len(items) == 12 and pages == 3, (len(items), pages)
        assert [i["id"] for i in items] == [r["data"]["id"] for r in mine]  # creation order
        assert len(list_all(SALES_B)[0]) == 3
        assert len(list_all(MANAGER)[0]) == 15
        assert len(list_all(ADMIN)[0]) == 16
        assert len(list_all(MANAGER, q="华夏")[0]) == 12
        assert len(list_all(MANAGER, q="工贸03")[0]) == 1
        assert len(list_all(MANAGER, q="bt1")[0]) == 1  # short name, ASCII case-insensitive
        assert len(list_all(ADMIN, q="C00001")[0]) == 7  # codes C000010..C000016
        assert len(list_all(MANAGER, grade="A")[0]) == 6
        assert len(list_all(MANAGER, owner="bob")[0]) == 3
        assert len(list_all(ADMIN, team="west")[0]) == 1
        assert len(list_all(SALES_A, q="Bob")[0]) == 0
        r = read(client, "customers.list", {"limit": 201}, MANAGER)
        assert r["status"] == 422, r
        assert read(client, "customers.list", {"q": 5}, MANAGER)["status"] == 422
        assert read(client, "customers.list", {}, {"user": "i", "role": "integrator"})[
            "status"] == 403

        # A retry with the same idem creates one customer and answers the same.
        first = write(client, "customers.create", {"name": "重试公司"}, SALES_A, idem="k-1")
        again = write(client, "customers.create", {"name": "重试公司"}, SALES_A, idem="k-1")
        assert first["status"] == again["status"] == 200, (first, again)
        assert again["seq"] == first["seq"] and again["data"]["id"] == first["data"]["id"]
        assert len(list_all(SALES_A, q="重试")[0]) == 1

        # Retries of writes whose first answer depends on the store's state get
        # that first answer, not a fresh check: a create with a tax id, an
        # update with a version, a refused duplicate.
        t1 = write(client, "customers.create", {"name": "税号公司", "tax_id": "TX-9"}, SALES_A,
                   idem="k-2")
        t2 = write(client, "customers.create", {"name": "税号公司", "tax_id": "TX-9"}, SALES_A,
                   idem="k-2")
        assert t1["status"] == t2["status"] == 200 and t1["data"]["id"] == t2["data"]["id"], t2
        u1 = write(client, "customers.update", {"id": t1["data"]["id"], "version": 1,
                                                "grade": "A"}, SALES_A, idem="k-3")
        u2 = write(client, "customers.update", {"id": t1["data"]["id"], "version": 1,
                                                "grade": "A"}, SALES_A, idem="k-3")
        assert u1["status"] == u2["status"] == 200 and u2["seq"] == u1["seq"], (u1, u2)
        assert u2["data"]["version"] == 2
        d1 = write(client, "customers.create", {"name": "税号公司"}, SALES_A, idem="k-4")
        d2 = write(client, "customers.create", {"name": "税号公司"}, SALES_A, idem="k-4")
        assert d1["status"] == d2["status"] == 409, (d1, d2)
        assert d1["error"] == d2["error"] and d1["error"]["code"] == "possible_duplicate"
        assert d1["error"]["details"]["ids"] == [t1["data"]["id"]]
        # A stale version without idem is refused before the journal; with a new
        # idem key, by apply: 412 either way.
        assert write(client, "customers.update", {"id": t1["data"]["id"], "version": 1},
                     SALES_A)["status"] == 412
        s1 = write(client, "customers.update", {"id": t1["data"]["id"], "version": 1}, SALES_A,
                   idem="k-5")
        assert s1["status"] == 412 and s1["error"]["code"] == "version_mismatch", s1


# -- several instances ------------------------------------------------------------


def test_two_instances_read_writes_and_failover(broker, customers):
    with broker.client() as client:
        writer = customers()
        wait_serving(client, readers=1)
        standby = customers()
        wait_serving(client, readers=2, standbys=1)

        created = create(client, SALES_A, name="广州南方电子", mobile="13912345678")
        assert created["status"] == 200, created
        cid, seq = created["data"]["id"], created["seq"]
        # Every read with min_seq sees the write, from either instance.
        for _ in range(20):
            g = read(client, "customers.get", {"id": cid}, SALES_A, min_seq=seq)
            assert g["status"] == 200 and g["data"]["mobile"] == "+8613912345678", g
        assert client.status()["services"]["customers"]["served"] >= 20

        writer.kill9()
        killed = time.monotonic()
        done = None
        while done is None:
            assert time.monotonic() - killed < TAKEOVER_S, "no takeover"
            try:
                r = write(client, "customers.update", {"id": cid, "grade": "C"}, SALES_A,
                          timeout=3.0 * SLOW, idem="after-kill")
            except TimeoutError:
                continue
            if r["status"] == 200:
                done = r
            else:
                assert r["status"] in (503, 504), r
                time.sleep(0.05)
        assert done["data"]["grade"] == "C" and done["data"]["version"] == 2, done
        # The dead instance's reader stays listed until its heartbeats expire
        # (as its writer did): a read the router hands it then is lost, and
        # the caller retries (the gateway answers such a read 503).
        def fresh_read():
            try:
                g = read(client, "customers.get", {"id": cid}, SALES_A, timeout=1.0 * SLOW,
                         min_seq=done["seq"])
            except TimeoutError:
                return None
            assert g["status"] in (200, 503), g
            return g if g["status"] == 200 else None
        g = wait_until(fresh_read, TAKEOVER_S * SLOW, what="a read after the takeover")
        assert g["data"]["version"] == 2, g
        assert standby.proc.poll() is None


class CreateLoad(threading.Thread):
    """Creates customers one after another, each retried with the SAME idem key
    until acknowledged; records (index, id, seq, monotonic time) per ack."""

    def __init__(self, endpoint):
        super().__init__(daemon=True, name="create-load")
        self.endpoint = endpoint
        self.stop = threading.Event()
        self.acked = []
        self.retries = 0
        self.error = None

    def run(self):
        import mdp
        try:
            with mdp.Client(self.endpoint) as client:
                i = 0
                while not self.stop.is_set():
                    self._create_until_acked(client, i)
                    i += 1
        except Exception as e:  # noqa: BLE001 — reported by the test
            self.error = e

    def _create_until_acked(self, client, i):
        deadline = time.monotonic() + 30 * SLOW
        while True:
            assert time.monotonic() < deadline, f"create {i} never acknowledged"
            try:
                r = write(client, "customers.create", {"name": f"负载客户{i}"}, SALES_A,
                          timeout=3.0 * SLOW, idem=f"load-{i}")
            except TimeoutError:
                self.retries += 1
                continue
            if r["status"] == 200:
                assert r["data"]["name"] == f"负载客户{i}", r
                self.acked.append((i, r["data"]["id"], r["seq"], time.monotonic()))
                return
            assert r["status"] in (503, 504), r  # retryable only
            self.retries += 1
            time.sleep(0.05)


def test_writer_killed_under_load_loses_nothing(broker, customers):
    with broker.client() as client:
        writer = customers()
        wait_serving(client, readers=1)
        standbys = [customers(), customers()]
        wait_serving(client, readers=3, standbys=2)

        load = CreateLoad(broker.endpoint)
        load.start()
        try:
            wait_until(lambda: len(load.acked) >= 20 or load.error, 20 * SLOW,
                       what="20 acknowledged creates")
            assert load.error is None, load.error
            writer.kill9()
            killed = time.monotonic()
            wait_until(lambda: load.error or sum(1 for a in load.acked if a[3] > killed) >= 10,
                       TAKEOVER_S + 10 * SLOW, what="creates after the takeover")
            assert load.error is None, load.error
            took = min(a[3] for a in load.acked if a[3] > killed) - killed
            assert took < TAKEOVER_S, f"first create after the kill took {took:.1f} s"
        finally:
            load.stop.set()
            load.join(40 * SLOW)
        assert not load.is_alive() and load.error is None, load.error

        assert [a[0] for a in load.acked] == list(range(len(load.acked)))
        ids = [a[1] for a in load.acked]
        assert len(set(ids)) == len(ids)
        last = max(a[2] for a in load.acked)
        # Each acknowledged create is in the journal once (retries deduplicated)…
        events, _ = client.read_all()
        created = [e["data"]["id"] for e in events if e["type"] == "customer.created"]
        assert sorted(created) == sorted(ids), (len(created), len(ids), load.retries)
        # …and on every surviving instance: list from each one alone (the other
        # stopped cleanly, then restarted on its store to replay nothing twice).
        def list_ids():
            listed, cursor = [], None
            while True:
                args = {"limit": 200, "q": "负载客户"}
                if cursor:
                    args["cursor"] = cursor
                r = read(client, "customers.list", args, SALES_A, min_seq=last)
                assert r["status"] == 200, r
                listed += [item["id"] for item in r["data"]["items"]]
                cursor = r["data"]["next_cursor"]
                if not cursor:
                    return listed

        first, second = standbys
        assert first.stop() == 0, first.log_tail()
        wait_serving(client, readers=1)
        assert list_ids() == sorted(ids)  # ids sort by creation
        again = customers(first.data_dir)
        wait_serving(client, readers=2)
        assert second.stop() == 0, second.log_tail()
        wait_serving(client, readers=1)
        assert list_ids() == sorted(ids)
        assert again.proc.poll() is None
