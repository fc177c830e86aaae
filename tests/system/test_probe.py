"""rapport-probe, the health check of docker/compose.yml, against the real
programs on loopback: `broker` asks broker.status, `status` prints it as
JSON, `service` reads the ready file a service instance writes once it has
caught up and registered (health/ready_file), and that the file tells the
writer apart and goes away on SIGTERM. The docker test uses the same probe
inside containers (tests/docker/test_compose.py)."""

import json
import os
import subprocess

from conftest import SLOW, build_path, wait_until
from process import ServiceProcess

PROBE = build_path("bin", "rapport-probe")
CUSTOMERS = build_path("bin", "rapport-customers")


def probe(what, env):
    proc = subprocess.run([PROBE, what], env=env, capture_output=True, timeout=30 * SLOW)
    return proc.returncode, proc.stdout.decode()


def test_probe_broker_and_status(broker):
    code, out = probe("broker", broker.env)
    assert code == 0 and out.startswith("broker: ready"), out
    code, out = probe("status", broker.env)
    assert code == 0 and json.loads(out)["journal"]["head"] == 0, out
    # Nothing listening: not ready, within the probe's timeout.
    env = {**broker.env, "RAPPORT_BROKER_ENDPOINT": "tcp://127.0.0.1:1",
           "RAPPORT_PROBE_TIMEOUT_MS": "300"}
    assert probe("broker", env)[0] == 1
    assert probe("status", env)[0] == 1
    assert probe("gateway", {**env, "RAPPORT_HTTP_PORT": "1"})[0] == 1
    assert probe("nonsense", env)[0] == 1


def test_probe_service_ready_file(broker, tmp_path):
    ready = tmp_path / "ready"
    env = {**broker.env, "RAPPORT_HEALTH_READY_FILE": str(ready)}
    code, out = probe("service", env)
    assert code == 1 and "not ready" in out
    first = ServiceProcess("customers", CUSTOMERS, broker, tmp_path / "c1", env=env)
    second = None
    try:
        wait_until(lambda: probe("service", env)[0] == 0, 15 * SLOW, what="customers ready")
        # One line: service, applied seq, writer epoch (the first one is the writer).
        line = wait_until(lambda: (p := ready.read_text().split()) and p[3] != "0" and p,
                          15 * SLOW, what="the writer's epoch in the ready file")
        assert line[:2] == ["ready", "customers"] and int(line[3]) >= 1
        mtime = os.stat(ready).st_mtime_ns
        wait_until(lambda: os.stat(ready).st_mtime_ns > mtime, 5 * SLOW,
                   what="the ready file refreshed")
        # A standby says epoch 0 in its own file.
        ready2 = tmp_path / "ready2"
        env2 = {**broker.env, "RAPPORT_HEALTH_READY_FILE": str(ready2)}
        second = ServiceProcess("customers", CUSTOMERS, broker, tmp_path / "c2", env=env2)
        wait_until(lambda: probe("service", env2)[0] == 0, 15 * SLOW, what="standby ready")
        assert ready2.read_text().split()[3] == "0"
    finally:
        assert first.stop() == 0, first.log_tail()
        if second:
            assert second.stop() == 0, second.log_tail()
    assert not ready.exists()
    code, out = probe("service", env)
    assert code == 1 and "not ready" in out
