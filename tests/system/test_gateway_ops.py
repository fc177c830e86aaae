"""Issue 3: the gateway's operations routes and error classes.

/metrics shows the journal's head and each service instance's cursor and
lag (services/gateway/fleet.c: replies are stamped with {cursor, instance},
the gateway probes every instance once a second); /ready follows the
customers writer lease, also across a broker restart; writes without a
writer and lagging reads answer 503 with Retry-After instead of hanging;
every error class answers problem+json. Starts the real broker, customers
(and users), gateway; talks HTTP with http.client only. Teardown asserts
every process still running exits 0 on SIGTERM (under ASan: no leaks).
"""

import json
import re
import signal
import time

import pytest

import mdp
from conftest import SLOW, wait_until
from test_customers import BINARY as CUSTOMERS_BINARY
from test_gateway import (AUTH, GATEWAY, GATEWAY_TALLY, JSON, PROBLEM_KEYS, Gateway,
                          assert_problem, tally_path)
from test_gateway_users import Users, bearer
from process import ServiceProcess

CUSTOMERS = "/api/v1/customers"


class Instance(ServiceProcess):
    """A customers instance with a known instance name (its metrics label)."""

    def __init__(self, broker, path, name):
        self.instance = name
        super().__init__("customers", CUSTOMERS_BINARY, broker, path,
                         env={"RAPPORT_INSTANCE": name})


class Ops:
    """A broker (requests wait 1 s for a worker, not 5), customers instances and a gateway."""

    def __init__(self, broker_factory, tmp_path, gateway_env=None):
        self.tmp_path = tmp_path
        self.broker = broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})
        self.procs = []
        self.gw = None
        self.gateway_env = gateway_env

    def customers(self, name):
        c = Instance(self.broker, self.tmp_path / name, name)
        self.procs.append(c)
        return c

    def users(self):
        u = Users(self.broker, self.tmp_path / "users")
        self.procs.append(u)
        return u

    def gateway(self, binary=GATEWAY):
        self.gw = Gateway(self.broker, self.tmp_path / "gateway", self.gateway_env, binary)
        self.procs.append(self.gw)
        return self.gw.wait_ready()

    def metrics(self):
        status, headers, body = self.gw.request("GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        return body.decode()

    def stop(self):
        failures = []
        for p in reversed(self.procs):
            if p.alive():
                code = p.stop()
                if code != 0:
                    failures.append(f"{p.name} exited with {code} on SIGTERM\n" + p.log_tail())
        assert not failures, "\n".join(failures)


@pytest.fixture
def ops(broker_factory, tmp_path):
    o = Ops(broker_factory, tmp_path)
    yield o
    o.stop()


def gauge(text, name, **labels):
    """The value of one series in Prometheus text, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{want}}}" if labels else name) + r" (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


def create(gw, name, **fields):
    status, headers, body = gw.json("POST", CUSTOMERS, {"name": name, **fields}, {**AUTH, **JSON})
    assert status == 201, body
    return body, int(headers["x-rapport-seq"])



def wait_writer(ops, service="customers"):
    with ops.broker.client() as client:
        wait_until(lambda: client.status()["leases"].get(service, {}).get("holder"),
                   15 * SLOW, interval=0.05, what=f"the {service} writer lease granted")


# -- /metrics: journal lag per instance -------------------------------------------


def test_metrics_lag_per_instance_drops_to_zero(ops):
    a = ops.customers("cust-a")
    gw = ops.gateway()
    gw.wait_customers()
    wait_writer(ops)
    _, seq = create(gw, "上海一号商行")
    b = ops.customers("cust-b")  # a standby, serving reads once caught up

    def both_current():
        text = ops.metrics()
        return all(gauge(text, "rapport_service_cursor", service="customers", instance=i) == seq
                   for i in ("cust-a", "cust-b")) and text
    text = wait_until(both_current, 15 * SLOW, interval=0.1, what="both instances in /metrics")
    assert gauge(text, "rapport_journal_head") >= seq
    assert gauge(text, "rapport_journal_lag", service="customers", instance="cust-b") == 0
    assert gauge(text, "rapport_service_writer", service="customers") == 1
    assert gauge(text, "rapport_broker_up") == 1
    assert "# TYPE rapport_journal_lag gauge\n" in text

    # b stops applying (SIGSTOP) while the writer goes on: its lag is the
    # events it missed. Kept short: the broker drops a worker silent 7.5 s.
    b.proc.send_signal(signal.SIGSTOP)
    try:
        last = seq
        for i in range(8):
            _, last = create(gw, f"停顿测试商行{i}")
        text = wait_until(lambda: (t := ops.metrics()) and gauge(t, "rapport_journal_head") >= last
                          and t, 5 * SLOW, interval=0.05, what="the head in /metrics")
        lag = gauge(text, "rapport_journal_lag", service="customers", instance="cust-b")
        assert lag is not None and lag >= last - seq, text
        assert gauge(text, "rapport_service_cursor", service="customers", instance="cust-b") == seq
    finally:
        b.proc.send_signal(signal.SIGCONT)
    # Caught up again: the lag drops to 0, the cursor reaches the head.
    wait_until(lambda: gauge(ops.metrics(), "rapport_journal_lag", service="customers",
                             instance="cust-b") == 0, 15 * SLOW, interval=0.1,
               what="cust-b caught up in /metrics")
    text = ops.metrics()
    assert gauge(text, "rapport_service_cursor", service="customers", instance="cust-b") >= last
    assert gauge(text, "rapport_journal_lag", service="customers", instance="cust-a") == 0
    assert a.alive() and b.alive()


def test_replies_are_stamped_with_cursor_and_instance(ops):
    """The runtime's service.status op and the stamp on every reply (docs/protocol.md)."""
    ops.customers("stamp-1")
    with ops.broker.client() as client:
        def status():
            try:
                r = client.call("customers", "service.status", {}, timeout=1.0)
                # Once the lease is granted (the reader may register first).
                return r if r.get("status") == 200 and r["data"]["epoch"] >= 1 else None
            except TimeoutError:
                return None
        r = wait_until(status, 15 * SLOW, interval=0.1, what="customers service.status")
        assert r["data"]["service"] == "customers" and r["data"]["instance"] == "stamp-1", r
        assert r["instance"] == "stamp-1" and r["cursor"] == r["data"]["cursor"], r
        bad = client.call("customers", "customers.nope", {}, timeout=5.0)
        assert bad["status"] == 400 and bad["instance"] == "stamp-1" and "cursor" in bad, bad


# -- /ready and 503s ----------------------------------------------------------------


def ready(gw):
    status, headers, body = gw.request("GET", "/ready", timeout=5.0)
    return status, headers, body


def test_ready_follows_the_writer_and_writes_fail_fast(ops):
    first = ops.customers("ready-1")
    gw = ops.gateway()
    gw.wait_customers()
    wait_writer(ops)
    create(gw, "准备就绪公司")
    first.kill9()
    # The broker notices within 7.5 s; /ready says which service lacks a writer.
    wait_until(lambda: ready(gw)[0] == 503, 15 * SLOW, interval=0.1, what="/ready 503")
    status, headers, body = ready(gw)
    problem = assert_problem(status, headers, body, 503, "no_writer")
    assert "customers" in problem["detail"] and headers["retry-after"] == "1"
    # A write answers 503 at once (the gateway knows the lease is vacant),
    # a read after the broker's queue wait (1 s here) — neither hangs.
    wait_until(lambda: gauge(ops.metrics(), "rapport_service_writer", service="customers") == 0,
               5 * SLOW, interval=0.1, what="the vacant lease in /metrics")

    def fails_fast():  # once two of the gateway's polls (1 s apart) saw the vacancy
        status, _, body = gw.request("POST", CUSTOMERS, b'{"name": "x"}', {**AUTH, **JSON})
        assert status == 503, body
        return json.loads(body)["code"] == "no_writer"
    wait_until(fails_fast, 5 * SLOW, interval=0.1, what="503 no_writer at once")
    started = time.monotonic()
    status, headers, body = gw.request("POST", CUSTOMERS, b'{"name": "x"}', {**AUTH, **JSON})
    assert_problem(status, headers, body, 503, "no_writer")
    assert headers["retry-after"] == "1" and time.monotonic() - started < 1.0 * SLOW
    status, headers, body = gw.request("GET", CUSTOMERS, headers=AUTH)
    assert_problem(status, headers, body, 503, "no_worker")
    assert headers["retry-after"] == "1"
    # Another instance takes over (it replays the journal first).
    ops.customers("ready-2")
    wait_until(lambda: ready(gw)[0] == 200, 20 * SLOW, interval=0.1, what="/ready 200 again")
    assert json.loads(ready(gw)[2]) == {"status": "ready"}
    wait_until(lambda: gw.request("POST", CUSTOMERS, b'{"name": "new writer"}',
                                  {**AUTH, **JSON})[0] == 201, 5 * SLOW, interval=0.1,
               what="a write through the new writer")


def test_ready_remembers_writers_across_a_broker_restart(ops):
    only = ops.customers("restart-1")
    gw = ops.gateway()
    wait_writer(ops)
    # The writer goes away for good, then the broker restarts: the broker
    # learns from its journal that customers had a writer, so /ready stays 503.
    only.stop()
    wait_until(lambda: ready(gw)[0] == 503, 10 * SLOW, interval=0.1, what="/ready 503")
    ops.broker.restart()
    with ops.broker.client() as client:
        lease = client.status()["leases"]["customers"]
        assert lease["holder"] is False and lease["epoch"] >= 1, lease
    time.sleep(1.5)  # the gateway's next broker.status polls (1 s apart): still not ready
    status, headers, body = ready(gw)
    assert_problem(status, headers, body, 503, "no_writer")
    ops.customers("restart-2")
    wait_until(lambda: ready(gw)[0] == 200, 20 * SLOW, interval=0.1, what="/ready 200 again")


def test_a_lagging_instance_is_503_with_retry_after(ops):
    """A service's 503 (here min_seq_timeout: the instance had not caught up
    in time) goes out as problem+json with Retry-After."""
    gw = ops.gateway(GATEWAY_TALLY)

    def lagging(body):
        return mdp.pack({"id": mdp.unpack(body)["id"], "status": 503,
                         "error": {"code": "min_seq_timeout",
                                   "message": "this instance has not applied min_seq yet"}})
    worker = ops.broker.worker("tally", lagging).start()
    try:
        status, headers, body = gw.request("GET", tally_path("x"), headers=AUTH)
        problem = assert_problem(status, headers, body, 503, "min_seq_timeout")
        assert headers["retry-after"] == "1" and "min_seq" in problem["detail"]
    finally:
        worker.stop()


# -- every error class answers problem+json -----------------------------------------


@pytest.fixture
def errors_stack(broker_factory, tmp_path):
    o = Ops(broker_factory, tmp_path, gateway_env={"RAPPORT_RATE_PER_S": "1",
                                                    "RAPPORT_RATE_BURST": "2"})
    o.users()
    o.customers("errors-1")
    gw = o.gateway()
    gw.wait_customers()
    wait_writer(o)
    wait_writer(o, "users")
    yield o
    o.stop()


def test_error_classes_are_problem_json(errors_stack):
    gw = errors_stack.gw
    hdrs = {**AUTH, **JSON}
    c, _ = create(gw, "错误类别测试有限公司", tax_id="91310000ERR00001X")
    path = f"{CUSTOMERS}/{c['id']}"
    cases = [
        (400, "bad_json", "POST", CUSTOMERS, b'{"name": ', hdrs),
        (401, "unauthorized", "GET", CUSTOMERS, None, {"Authorization": "Bearer wrong"}),
        (404, "not_found", "GET", f"{CUSTOMERS}/nope", None, AUTH),
        (404, "not_found", "GET", "/nowhere", None, {}),
        (405, "method_not_allowed", "PUT", path, b"{}", hdrs),
        (409, "duplicate", "POST", CUSTOMERS,
         json.dumps({"name": "另一家公司", "tax_id": "91310000ERR00001X"}).encode(), hdrs),
        (412, "version_mismatch", "PATCH", path, b'{"grade": "B"}', {**hdrs, "If-Match": '"9"'}),
        (413, "body_too_large", "POST", CUSTOMERS,
         b'{"name": "' + b"x" * (1024 * 1024 + 16) + b'"}', hdrs),
        (415, "unsupported_media_type", "POST", CUSTOMERS, b"name=x",
         {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}),
        (422, "invalid", "POST", CUSTOMERS, json.dumps({"name": "有效名称", "email": "not-an-email"}).encode(), hdrs),
    ]
    for expected, code, method, target, body, headers in cases:
        status, h, raw = gw.request(method, target, body, headers)
        problem = assert_problem(status, h, raw, expected, code)
        assert PROBLEM_KEYS <= set(problem)
        if expected == 401:
            assert h["www-authenticate"] == "Bearer"
        if expected == 405:
            assert h["allow"] == "GET, HEAD, PATCH, DELETE", h
        if expected == 409:
            assert problem["fields"] == ["tax_id"] and problem["matches"] == [c["id"]], problem
        if expected == 422:
            assert problem["errors"][0]["field"] == "email", problem
    # 429: a user key beyond its bucket (burst 2, 1 a second here).
    status, _, user = gw.json("POST", "/api/v1/users", {"name": "急躁", "email": "rush@example.cn",
                                                        "role": "sales", "team": "east"}, hdrs)
    assert status == 201, user
    for _ in range(10):
        status, h, raw = gw.request("GET", CUSTOMERS, headers=bearer(user["api_key"]))
        if status == 429:
            break
    assert_problem(status, h, raw, 429, "rate_limited")
    assert int(h["retry-after"]) >= 1
    # 503: covered above (no writer, lagging); the operations routes need no key.
    for route in ("/health", "/ready", "/metrics", "/openapi.json"):
        assert gw.request("GET", route)[0] == 200, route
