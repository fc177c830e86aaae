"""Wait until a broker answers journal.head on its router (a readiness check).

Usage: wait_broker.py ENDPOINT [TIMEOUT_S]; exits 0 when ready, 1 on timeout.
"""
import sys
import time

import msgpack
import zmq


def main():
    endpoint = sys.argv[1]
    deadline = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 10)
    ctx = zmq.Context()
    while time.monotonic() < deadline:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        body = msgpack.packb({"id": 1, "op": "journal.head", "args": {}})
        sock.send_multipart([b"", b"MDPC01", b"journal", body])
        if sock.poll(500):
            frames = sock.recv_multipart()
            reply = msgpack.unpackb(frames[-1])
            if reply.get("status") == 200:
                return 0
        sock.close()
    print(f"broker at {endpoint} not ready", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
