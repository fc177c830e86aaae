"""Issue 2, "Interoperability": a pure-Python MDP client and worker talk through the broker."""

import os
import time

import mdp
from conftest import SLOW, wait_until


def wait_workers(client, service, count, timeout=10.0):
    """Until broker.status shows `count` workers for service."""
    def ready():
        services = client.status()["services"]
        return services.get(service, {}).get("workers", 0) >= count
    wait_until(ready, timeout * SLOW, what=f"{count} worker(s) for {service}")


def test_echo_1000_requests_correlate(broker):
    worker = broker.worker("echo").start()
    try:
        with broker.client() as client:
            wait_until(lambda: client.mmi("echo") == "200", 10 * SLOW, what="echo registered")
            sent = {}

            all_args = [{"n": i, "text": f"请求 {i} — ünïcødé", "blob": os.urandom(i % 64)}
                        for i in range(1000)]

            def args_for(i):
                return all_args[i]

            # 200 one at a time ...
            for i in range(200):
                reply = client.call("echo", "echo", args_for(i))
                assert reply["status"] == 200, reply
                assert reply["data"] == args_for(i), f"request {i}: payload changed"
            # ... then 800 pipelined, up to 50 in flight on the one DEALER.
            replies = {}
            next_i, window = 200, 50
            deadline = time.monotonic() + 60 * SLOW
            while len(replies) < 800:
                while next_i < 1000 and len(sent) - len(replies) < window:
                    sent[client.send_request("echo", "echo", args_for(next_i))] = args_for(next_i)
                    next_i += 1
                assert time.monotonic() < deadline, f"only {len(replies)} of 800 replies"
                reply = client.recv_reply(10 * SLOW)
                assert reply["id"] in sent, f"reply for an unknown id: {reply!r}"
                assert reply["id"] not in replies, f"second reply for id {reply['id']}"
                replies[reply["id"]] = reply
            for rid, args in sent.items():
                assert replies[rid]["status"] == 200
                assert replies[rid]["data"] == args, f"id {rid}: payload changed"
            assert not client.unmatched
        assert worker.served == 1000
        assert not worker.errors, worker.errors
    finally:
        worker.stop()


def test_mmi_service(broker):
    worker = broker.worker("echo").start()
    try:
        with broker.client() as client:
            wait_until(lambda: client.mmi("echo") == "200", 10 * SLOW, what="echo registered")
            assert client.mmi("no.such.service") == "404"
            assert client.mmi("mmi.nonsense", mmi_service="mmi.nonsense") == "501"
        worker.stop()
        # After DISCONNECT the service has no worker any more.
        with broker.client() as client:
            wait_until(lambda: client.mmi("echo") == "404", 10 * SLOW, what="echo gone")
    finally:
        worker.stop()


def test_two_workers_share_the_load(broker):
    def slow_echo(body):
        time.sleep(0.002)  # long enough that a second worker is needed
        return mdp.echo_handler(body)

    workers = [broker.worker("lb", slow_echo).start() for _ in range(2)]
    try:
        with broker.client() as client:
            wait_workers(client, "lb", 2)
            pending = {client.send_request("lb", "echo", {"n": i}) for i in range(200)}
            while pending:
                reply = client.recv_reply(10 * SLOW)
                assert reply["status"] == 200
                pending.remove(reply["id"])
        served = [w.served for w in workers]
        assert sum(served) == 200
        assert min(served) >= 40, f"load not balanced: {served}"
    finally:
        for w in workers:
            w.stop()


def test_credit_extension_allows_many_in_flight(broker):
    """A worker announcing {credit: 8} gets several requests before replying."""
    held = []

    def hold(body):
        held.append(body)
        return None  # reply later, all at once

    worker = broker.worker("credit", hold, credit=8).start()
    try:
        with broker.client() as client:
            wait_workers(client, "credit", 1)
            for i in range(8):
                client.send_request("credit", "echo", {"n": i})
            wait_until(lambda: len(held) == 8, 10 * SLOW, what="8 requests in flight")
    finally:
        worker.stop()


def test_request_waits_for_a_worker(broker):
    """A request for a service without workers is queued and served when one arrives."""
    with broker.client() as client:
        rid = client.send_request("late", "echo", {"n": 1})
        assert client.mmi("late") == "404"
        worker = broker.worker("late").start()
        try:
            reply = client.recv_reply(4 * SLOW)
            assert reply["id"] == rid and reply["status"] == 200 and reply["data"] == {"n": 1}
        finally:
            worker.stop()


def test_no_worker_times_out_with_503(broker_factory):
    b = broker_factory({"RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "300"})
    with b.client() as client:
        t0 = time.monotonic()
        reply = client.call("nobody", "echo", {}, timeout=5 * SLOW)
        assert reply["status"] == 503, reply
        assert reply["error"]["code"] == "no_worker", reply
        assert time.monotonic() - t0 < 3 * SLOW


def test_full_queue_answers_503(broker_factory):
    b = broker_factory({"RAPPORT_ROUTER_QUEUE_MAX": "5", "RAPPORT_ROUTER_REQUEST_TIMEOUT_MS": "60000"})
    with b.client() as client:
        ids = [client.send_request("nobody", "echo", {"n": i}) for i in range(8)]
        replies = [client.recv_reply(5 * SLOW) for _ in range(3)]
        assert sorted(r["id"] for r in replies) == ids[5:], replies
        for r in replies:
            assert r["status"] == 503 and r["error"]["code"] == "queue_full", r
        # The 5 queued ones are still served once a worker comes.
        worker = b.worker("nobody").start()
        try:
            served = sorted(client.recv_reply(5 * SLOW)["id"] for _ in range(5))
            assert served == ids[:5]
        finally:
            worker.stop()


def test_worker_lost_answers_503(broker):
    """A worker that disconnects with a request in flight: the client gets 503 worker_lost."""
    got = []
    worker = broker.worker("lossy", lambda body: got.append(body)).start()
    with broker.client() as client:
        wait_workers(client, "lossy", 1)
        rid = client.send_request("lossy", "echo", {})
        wait_until(lambda: got, 5 * SLOW, what="request delivered")
        worker.stop()  # sends DISCONNECT without replying
        reply = client.recv_reply(5 * SLOW)
        assert reply["id"] == rid and reply["status"] == 503, reply
        assert reply["error"]["code"] == "worker_lost", reply
