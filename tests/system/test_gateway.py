"""Issue 3, gateway foundation: HTTP on evhttp, the broker on the same loop.

Each test starts the real broker (fixture), the real rapport-gateway on a
free loopback port, and where needed tally_service (tests/system), and talks
HTTP with http.client only. The /api/v1/tally/{key} routes are the gateway's
DEMO of its forwarding path: GET → "tally" tally.get, POST → "tally.writer"
tally.add. They are test rows (tests/system/tally_routes.c) that only the test
build rapport-gateway-tally has; the production gateway answers them 404.
Teardown asserts the gateway exits 0 on SIGTERM (under ASan: no
leaks).
"""

import http.client
import json
import signal
import urllib.parse

import pytest

import mdp
from conftest import ROOT, SLOW, build_path, free_port, wait_until
from process import ServiceProcess

GATEWAY = build_path("bin", "rapport-gateway")
GATEWAY_TALLY = build_path("test", "rapport-gateway-tally")  # with the tally rows
TALLY = build_path("test", "tally_service")
ADMIN_KEY = "test-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
JSON = {"Content-Type": "application/json"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


class Gateway(ServiceProcess):
    """One rapport-gateway process on a free port, with its own data dir
    (path), log and extra settings (env); binary: the production gateway, or
    GATEWAY_TALLY."""

    def __init__(self, broker, path, env=None, binary=GATEWAY):
        self.port = free_port()
        super().__init__("gateway", binary, broker, path, cwd=ROOT,
                         env={"RAPPORT_HTTP_PORT": str(self.port),
                              "RAPPORT_ADMIN_KEY": ADMIN_KEY, **(env or {})})

    def request(self, method, path, body=None, headers=None, timeout=15.0):
        """(status, headers as a dict with lower-case names, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, headers, data = self.request(method, path, body, headers)
        return status, headers, json.loads(data) if data else None

    def wait_ready(self, timeout=15.0):
        def ready():
            assert self.proc.poll() is None, "gateway exited\n" + self.log_tail()
            try:
                return self.request("GET", "/ready", timeout=2.0)[0] == 200
            except OSError:
                return False
        wait_until(ready, timeout * SLOW, what="gateway /ready")
        return self

    def wait_customers(self):
        """Until the admin can list customers through this gateway."""
        wait_until(lambda: self.request("GET", "/api/v1/customers", headers=AUTH)[0] == 200,
                   15 * SLOW, interval=0.05, what="customers through the gateway")
        return self


class Tally(ServiceProcess):
    """One tally_service process (services "tally" and "tally.writer")."""

    def __init__(self, broker, path):
        super().__init__("tally", TALLY, broker, path)


@pytest.fixture
def quick_broker(broker_factory):
    # A request for a service without workers waits 1 s, not 5, before 503.
    return broker_factory(env={"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "1000"})


@pytest.fixture
def gateway(quick_broker, tmp_path):
    gw = Gateway(quick_broker, tmp_path / "gateway", binary=GATEWAY_TALLY).wait_ready()
    yield gw
    code = gw.stop()
    assert code == 0, f"gateway exited with {code} on SIGTERM\n" + gw.log_tail()


@pytest.fixture
def tallies(quick_broker, tmp_path):
    started = []

    def start():
        t = Tally(quick_broker, tmp_path / f"tally{len(started)}")
        started.append(t)
        return t
    yield start
    for t in started:
        assert t.stop() == 0


def tally_path(key):
    return "/api/v1/tally/" + urllib.parse.quote(key, safe="")


def wait_tally(gw, key="warmup"):
    """Until a tally instance answers through the gateway (it registers once caught up)."""
    wait_until(lambda: gw.request("GET", tally_path(key), headers=AUTH)[0] == 200,
               15 * SLOW, interval=0.05, what="tally through the gateway")


def assert_problem(status, headers, body, expected, code=None):
    assert status == expected, (status, body)
    assert headers["content-type"] == "application/problem+json", headers
    problem = json.loads(body)
    assert PROBLEM_KEYS <= set(problem), problem
    assert problem["status"] == expected
    assert problem["type"] == "/problems/" + problem["code"]
    if code:
        assert problem["code"] == code, problem
    return problem


# -- operations ----------------------------------------------------------------


def test_health_ready_metrics(gateway):
    status, headers, body = gateway.json("GET", "/health")
    assert status == 200 and body == {"status": "ok"}
    assert headers["content-type"] == "application/json"
    status, _, body = gateway.json("GET", "/ready")
    assert status == 200 and body == {"status": "ready"}
    gateway.request("GET", "/nope")
    status, headers, text = gateway.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    text = text.decode()
    assert 'rapport_http_requests_total{route="/health",status="200"} 1\n' in text
    assert 'rapport_http_requests_total{route="unmatched",status="404"} 1\n' in text
    assert '# TYPE rapport_http_request_duration_seconds histogram' in text
    assert 'rapport_http_request_duration_seconds_bucket{route="/ready",le="+Inf"}' in text
    assert 'rapport_http_request_duration_seconds_count{route="/health"} 1\n' in text


def test_ready_is_503_without_broker(quick_broker, gateway):
    assert quick_broker.stop() == 0
    status, headers, body = gateway.request("GET", "/ready")
    assert_problem(status, headers, body, 503, "not_ready")
    assert headers["retry-after"] == "1"
    # Health does not depend on the broker.
    assert gateway.request("GET", "/health")[0] == 200
    quick_broker.start()
    gateway.wait_ready()


# -- errors as problem+json -----------------------------------------------------


def test_unauthorized(gateway):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ADMIN_KEY}"},
                    {"Authorization": f"Bearer {ADMIN_KEY}x"}, {"Authorization": "Bearer "}):
        status, h, body = gateway.request("GET", tally_path("k"), headers=headers)
        assert_problem(status, h, body, 401, "unauthorized")
        assert h["www-authenticate"] == "Bearer"
    # Unknown paths under /api reveal nothing without a key.
    status, h, body = gateway.request("GET", "/api/v1/nothing-here")
    assert_problem(status, h, body, 401, "unauthorized")


def test_problem_shapes(gateway):
    status, h, body = gateway.request("GET", "/nope")
    assert_problem(status, h, body, 404, "not_found")
    status, h, body = gateway.request("GET", "/api/v1/nothing-here", headers=AUTH)
    assert_problem(status, h, body, 404, "not_found")
    for path in ("/api/v1/tally/a/b", "/api/v1/tally/", "/api/v1/tally/a%00b",
                 "/api/v1/tally/%FF", "/api/v1/tally/" + "x" * 300):
        status, h, body = gateway.request("GET", path, headers=AUTH)
        assert_problem(status, h, body, 404, "not_found")

    status, h, body = gateway.request("DELETE", tally_path("k"), headers=AUTH)
    assert_problem(status, h, body, 405, "method_not_allowed")
    assert h["allow"] == "GET, HEAD, POST"
    status, h, body = gateway.request("POST", "/health", body=b"{}", headers=JSON)
    assert_problem(status, h, body, 405)
    assert h["allow"] == "GET, HEAD"

    post = dict(AUTH)
    status, h, body = gateway.request("POST", tally_path("k"), body=b'{"n":1}',
                                      headers=dict(post, **{"Content-Type": "text/plain"}))
    assert_problem(status, h, body, 415, "unsupported_media_type")
    status, h, body = gateway.request("POST", tally_path("k"), body=b'{"n":1}', headers=post)
    assert_problem(status, h, body, 415)

    big = b'{"pad":"' + b"x" * (1024 * 1024) + b'"}'
    status, h, body = gateway.request("POST", tally_path("k"), body=big, headers=dict(post, **JSON))
    assert_problem(status, h, body, 413, "body_too_large")

    for bad in (b'{"n":', b'{"n":1} trailing', b'{"n":"\xff"}', b'{"a":1,"a":2}', b"[1]",
                b"[" * 40 + b"]" * 40, b""):
        status, h, body = gateway.request("POST", tally_path("k"), body=bad,
                                          headers=dict(post, **JSON))
        assert_problem(status, h, body, 400, "bad_json")

    status, h, body = gateway.request("POST", tally_path("k"), body=b'{"n":1}',
                                      headers=dict(post, **JSON, **{"Idempotency-Key": "x" * 129}))
    assert_problem(status, h, body, 400, "bad_idempotency_key")

    # Every one of them was counted under its route.
    text = gateway.request("GET", "/metrics")[2].decode()
    assert 'rapport_http_requests_total{route="/api/v1/tally/{key}",status="413"} 1\n' in text


# -- the forwarding path (demo routes on tally_service) -----------------------------


def test_tally_round_trip(gateway, tallies):
    tallies()
    wait_tally(gateway)
    key = "客户-上海"  # UTF-8 in the path, percent-encoded
    utf8 = {"Content-Type": "application/json; charset=utf-8"}
    status, h, body = gateway.json("POST", tally_path(key), {"n": 3}, dict(AUTH, **utf8))
    assert status == 200, body
    assert body["key"] == key and body["total"] == 3
    seq = int(h["x-rapport-seq"])
    assert seq > 0
    status, h, body = gateway.json("GET", tally_path(key), headers=AUTH)
    assert status == 200 and body["total"] == 3 and body["key"] == key
    assert body["cursor"] >= seq
    status, h, body = gateway.json("POST", tally_path(key), {"n": 4}, dict(AUTH, **JSON))
    assert status == 200 and body["total"] == 7 and int(h["x-rapport-seq"]) > seq

    # The service's own errors come back as problem+json with its code.
    status, h, body = gateway.request("POST", tally_path(key), {"n": 0}, dict(AUTH, **JSON))
    assert_problem(status, h, body, 422, "invalid")
    status, h, body = gateway.request("POST", tally_path(key), {"m": 1}, dict(AUTH, **JSON))
    assert_problem(status, h, body, 400, "bad_args")
    status, h, body = gateway.request("GET", tally_path("k" * 65), headers=AUTH)
    assert_problem(status, h, body, 422, "invalid")


def test_idempotency_key_counts_once(gateway, tallies):
    tallies()
    wait_tally(gateway)
    headers = dict(AUTH, **JSON, **{"Idempotency-Key": "order-42"})
    first = gateway.json("POST", tally_path("idem"), {"n": 5}, headers)
    again = gateway.json("POST", tally_path("idem"), {"n": 5}, headers)
    assert first[0] == again[0] == 200, (first, again)
    assert first[1]["x-rapport-seq"] == again[1]["x-rapport-seq"]
    assert first[2]["total"] == again[2]["total"] == 5
    other = gateway.json("POST", tally_path("idem"), {"n": 5},
                         dict(AUTH, **JSON, **{"Idempotency-Key": "order-43"}))
    assert other[0] == 200 and other[2]["total"] == 10
    assert gateway.json("GET", tally_path("idem"), headers=AUTH)[2]["total"] == 10


def test_envelope_min_seq_actor_idem(quick_broker, gateway):
    """A Python worker stands in for tally: it sees exactly what the gateway sends."""
    seen = []

    def writer(body):
        request = mdp.unpack(body)
        seen.append(request)
        return mdp.pack({"id": request["id"], "status": 201, "seq": 41,
                         "data": {"ok": True, "中文": "名字"}})

    def reader(body):
        request = mdp.unpack(body)
        seen.append(request)
        return mdp.pack({"id": request["id"], "status": 200, "data": {"min_seq":
                                                                      request.get("min_seq")}})

    workers = [quick_broker.worker("tally.writer", writer).start(),
               quick_broker.worker("tally", reader).start()]
    try:
        wait_until(lambda: gateway.request("GET", tally_path("k"), headers=AUTH)[0] == 200,
                   10 * SLOW, what="python tally worker")
        seen.clear()
        status, h, body = gateway.json("POST", tally_path("k"), {"n": 2, "note": "备注"},
                                       dict(AUTH, **JSON, **{"Idempotency-Key": "abc"}))
        assert status == 201 and h["x-rapport-seq"] == "41"
        assert body == {"ok": True, "中文": "名字"}
        request = seen[-1]
        assert request["op"] == "tally.add"
        assert request["args"] == {"n": 2, "note": "备注", "key": "k"}
        assert request["actor"] == {"user": "admin", "role": "admin", "team": ""}
        assert request["idem"] == "admin:abc"
        # The next read carries the seq this caller saw: read-your-writes.
        status, _, body = gateway.json("GET", tally_path("k"), headers=AUTH)
        assert status == 200 and body == {"min_seq": 41}
        assert seen[-1]["op"] == "tally.get" and seen[-1]["min_seq"] == 41
    finally:
        for w in workers:
            w.stop()


def test_read_your_writes_across_instances(quick_broker, gateway, tallies):
    """Two tally instances: every read after a write shows it, whichever instance answers."""
    tallies()
    tallies()
    with quick_broker.client() as client:
        wait_until(lambda: client.status()["services"].get("tally", {}).get("workers") == 2,
                   15 * SLOW, interval=0.05, what="two tally readers")
    instances = set()
    for i in range(1, 21):
        status, h, body = gateway.json("POST", tally_path("ryw"), {"n": 1}, dict(AUTH, **JSON))
        assert status == 200 and body["total"] == i, body
        status, _, body = gateway.json("GET", tally_path("ryw"), headers=AUTH)
        assert status == 200 and body["total"] == i, body
        instances.add(body["instance"])
    assert len(instances) == 2, instances  # both served reads


def test_503_when_no_worker(gateway, tallies):
    tally = tallies()
    wait_tally(gateway)
    assert tally.stop() == 0
    # The broker answers 503 once its queue wait (1 s here) expires.
    status, h, body = gateway.request("GET", tally_path("k"), headers=AUTH)
    problem = assert_problem(status, h, body, 503)
    assert problem["code"] in ("no_worker", "worker_lost"), problem
    assert h["retry-after"] == "1"
    status, h, body = gateway.request("POST", tally_path("k"), {"n": 1}, dict(AUTH, **JSON))
    assert_problem(status, h, body, 503)
    # A new instance takes the lease; the gateway forwards again.
    tallies()
    wait_tally(gateway)


def test_concurrent_keepalive_clients(gateway, tallies):
    """Many clients on keep-alive connections at once: every answer arrives (the
    ZMQ_FD edge is never lost), each the right one."""
    import threading
    tallies()
    wait_tally(gateway)
    errors = []

    def client(n):
        conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=20 * SLOW)
        try:
            for i in range(40):
                key = f"c{n}-{i % 4}"
                conn.request("GET", tally_path(key), headers=AUTH)
                resp = conn.getresponse()
                body = json.loads(resp.read())
                if resp.status != 200 or body["key"] != key:
                    errors.append((resp.status, body))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * SLOW)
    assert not errors, errors[:5]


def test_timeout_hangup_and_stop_in_flight(quick_broker, tmp_path):
    """A service that never answers: the caller gets 504 at the deadline; a caller
    that hung up costs nothing; SIGTERM answers what is in flight with 503 and
    exits 0 (under ASan: nothing leaked)."""
    silent = quick_broker.worker("tally", lambda body: None, credit=100).start()
    quick_broker.env["RAPPORT_HTTP_TIMEOUT_MS"] = "500"
    try:
        gw = Gateway(quick_broker, tmp_path / "gateway", binary=GATEWAY_TALLY).wait_ready()
    finally:
        del quick_broker.env["RAPPORT_HTTP_TIMEOUT_MS"]
    try:
        # A client that sends and hangs up at once.
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
        conn.request("GET", tally_path("gone"), headers=AUTH)
        conn.close()
        status, h, body = gw.request("GET", tally_path("late"), headers=AUTH)
        assert_problem(status, h, body, 504, "timeout")

        # One more in flight when SIGTERM comes.
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10 * SLOW)
        conn.request("GET", tally_path("pending"), headers=AUTH)
        wait_until(lambda: silent.served >= 3 or None, 5 * SLOW, what="request at the worker")
        gw.proc.send_signal(signal.SIGTERM)
        resp = conn.getresponse()
        problem = json.loads(resp.read())
        assert resp.status == 503 and problem["code"] == "shutting_down", problem
        conn.close()
    finally:
        code = gw.stop()
        silent.stop()
    assert code == 0, f"gateway exited with {code}\n" + gw.log_tail()


# -- HEAD, and the production routing table ------------------------------------------


def test_head_then_get_on_one_keepalive_connection(quick_broker, tmp_path):
    """A HEAD answer is its headers alone (Content-Length that of the GET's
    body): the next answer on the same keep-alive connection parses."""
    gw = Gateway(quick_broker, tmp_path / "gateway").wait_ready()
    try:
        status, h, body = gw.request("GET", "/openapi.json")
        assert status == 200 and len(body) > 1000
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5 * SLOW)
        try:
            for path in ("/openapi.json", "/health"):
                conn.request("HEAD", path)
                head = conn.getresponse()
                assert head.status == 200 and head.read() == b""
                if path == "/openapi.json":
                    assert int(head.getheader("Content-Length")) == len(body)
                conn.request("GET", path)
                got = conn.getresponse()
                text = got.read()
                assert got.status == 200 and got.getheader("Content-Type") == "application/json"
                assert text == body if path == "/openapi.json" else json.loads(text) == {
                    "status": "ok"}
            # And under /api: a 404 problem's HEAD too.
            conn.request("HEAD", "/api/v1/nope", headers=AUTH)
            head = conn.getresponse()
            assert head.status == 404 and head.read() == b""
            conn.request("GET", "/health")
            got = conn.getresponse()
            assert got.status == 200 and json.loads(got.read()) == {"status": "ok"}
        finally:
            conn.close()
        # The demo rows are the test build's: production answers them 404.
        status, h, body = gw.request("GET", tally_path("k"), headers=AUTH)
        assert_problem(status, h, body, 404, "not_found")
        status, h, body = gw.request("POST", tally_path("k"), b'{"n": 1}', {**AUTH, **JSON})
        assert_problem(status, h, body, 404, "not_found")
    finally:
        assert gw.stop() == 0, gw.log_tail()
