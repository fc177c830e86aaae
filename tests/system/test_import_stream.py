"""Issue 13: streamed import without libevent's private structures
(services/gateway/intake.h). The body of POST /api/v1/customers/import is
read by the gateway's intake, in front of evhttp, at the writer's pace:

- a 100,000-row import sent chunked, about 36 MB, keeps the gateway's RSS
  (sampled while it uploads) under its baseline + RSS_BOUND_MIB;
- Expect: 100-continue is answered; ambiguous or broken framing is a 400;
- an import answered early (401) has its body read and dropped, so the
  same keep-alive connection goes on; requests pipelined behind an import
  are answered in order.
"""

import http.client
import json
import socket
import time

import pytest

from conftest import SLOW, UNDER_ASAN, rss_kib
from test_gateway import ADMIN_KEY, AUTH
from test_gateway_customers import gateway  # noqa: F401  (the fixture: gateway + customers)

PATH = "/api/v1/customers/import"
CSV = {**AUTH, "Content-Type": "text/csv"}
RSS_BOUND_MIB = 8  # the body is 36 MB, 4.5 times more; the intake holds a few batches


def csv_rows(first, count):
    # An address of about 300 bytes makes the body large for its rows.
    street = "浦东新区张江高科技园区碧波路" * 7
    return "".join(f"流式客户{i:06d}有限公司,138{i:08d},华东,TX{i:08d},{street}{i}号\r\n"
                   for i in range(first, first + count)).encode()


def raw(gw):
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=60 * SLOW)
    return sock


def read_answer(sock, buffered=b""):
    """One HTTP answer from sock: (status, headers dict, body, what is left)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"closed before an answer: {data!r}"
        data += more
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        more = sock.recv(65536)
        assert more, "closed inside an answer"
        rest += more
    return status, headers, rest[:length], rest[length:]


def test_100k_chunked_import_stays_in_bounded_memory(gateway):
    header = "name,mobile,region,tax_id,address\r\n".encode()
    chunks, per_chunk = 100, 1000
    size = len(header) + sum(len(csv_rows(k * per_chunk, per_chunk)) for k in range(chunks))
    assert size > 32 * 1024 * 1024
    baseline = rss_kib(gateway.pid)
    samples = []

    def body():
        yield header
        for k in range(chunks):
            samples.append(rss_kib(gateway.pid))
            yield csv_rows(k * per_chunk, per_chunk)
        samples.append(rss_kib(gateway.pid))

    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=300 * SLOW)
    started = time.monotonic()
    # No Content-Length: http.client sends the iterable chunked.
    conn.request("POST", f"{PATH}?dry_run=true", body=body(), headers=CSV)
    resp = conn.getresponse()
    report = json.loads(resp.read())
    assert resp.status == 200, report
    assert report["created"] == chunks * per_chunk and report["rejected"] == [], report
    assert len(samples) == chunks + 1
    peak = max(samples) - baseline
    print(f"import of {size} bytes in {time.monotonic() - started:.1f} s: "
          f"baseline {baseline} KiB, peak +{peak} KiB")
    if not UNDER_ASAN:  # ASan's allocator and shadow memory blur RSS
        assert peak < RSS_BOUND_MIB * 1024, (baseline, samples)
        assert size > 4 * RSS_BOUND_MIB * 1024 * 1024  # the body dwarfs the bound
    # The same connection goes on.
    conn.request("GET", "/api/v1/customers?limit=1", headers=AUTH)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    conn.close()


def test_expect_continue_and_pipelining(gateway):
    body = "name\r\n北京东方有限公司\r\n".encode()
    sock = raw(gateway)
    try:
        sock.sendall((f"POST {PATH}?dry_run=true HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: text/csv\r\n"
                      f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
        data = sock.recv(1024)
        assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), data
        sock.sendall(body)
        status, _, answer, left = read_answer(sock, data[len(b"HTTP/1.1 100 Continue\r\n\r\n"):])
        assert status == 200 and json.loads(answer)["created"] == 1, answer

        # A GET, an import and a GET in one write: three answers, in order.
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                     + (f"POST {PATH}?dry_run=true HTTP/1.1\r\nHost: x\r\n"
                        f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: text/csv\r\n"
                        f"Transfer-Encoding: chunked\r\n\r\n").encode()
                     + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
                     + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, answer, left = read_answer(sock, left)
        assert status == 200 and json.loads(answer)["status"] == "ok", answer
        status, _, answer, left = read_answer(sock, left)
        assert status == 200 and json.loads(answer)["created"] == 1, answer
        status, _, answer, left = read_answer(sock, left)
        assert status == 200 and json.loads(answer)["status"] == "ok", answer
    finally:
        sock.close()


def test_early_answer_drops_the_body_and_keeps_the_connection(gateway):
    big = b"name\r\n" + "拒绝客户\r\n".encode() * 200000  # about 2.6 MB
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60 * SLOW)
    conn.request("POST", PATH, body=big, headers={"Content-Type": "text/csv"})  # no key
    resp = conn.getresponse()
    assert resp.status == 401, resp.read()
    resp.read()
    conn.request("POST", PATH, body=big, headers={**AUTH, "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 415, resp.read()
    resp.read()
    conn.request("GET", "/health")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["status"] == "ok"
    conn.close()


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
])
def test_ambiguous_framing_is_refused(gateway, framing):
    sock = raw(gateway)
    try:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
                     f"Content-Type: text/csv\r\n".encode() + framing + b"\r\nname\r\n")
        status, headers, answer, _ = read_answer(sock)
        assert status == 400 and json.loads(answer)["code"] == "bad_request", answer
        assert headers.get("connection", "").lower() == "close"
        sock.settimeout(10 * SLOW)
        rest = b""
        while True:  # the gateway closes the connection
            more = sock.recv(65536)
            if not more:
                break
            rest += more
        assert rest == b""
    finally:
        sock.close()


def test_broken_chunks_are_refused(gateway):
    sock = raw(gateway)
    try:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
                     f"Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                     f"6\r\nname\r\n\r\nzz\r\n".encode())
        status, _, answer, _ = read_answer(sock)
        assert status == 400 and json.loads(answer)["code"] == "bad_request", answer
    finally:
        sock.close()
