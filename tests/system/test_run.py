"""`make run`'s script (tools/run.sh): it starts the broker and every service
on loopback, the gateway answers, and the whole suite stops when the process
that started it (make) goes away, even if nobody signals the script itself.

The script runs under a stand-in for make (`sh -c '…; true'`, which cannot
exec the script in its place), so killing the stand-in is killing make.
"""

import os
import signal
import subprocess
import urllib.request

from conftest import BUILD, ROOT, SLOW, free_port, wait_until


def suite_pids(data_dir):
    """Pids of live processes whose environment names this data directory."""
    mark = f"RAPPORT_DATA_DIR={data_dir}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        pids.append(int(entry))
    return pids


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_run_starts_the_suite_and_stops_with_make(tmp_path):
    data_dir = str(tmp_path / "var")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(RAPPORT_DATA_DIR=data_dir, RAPPORT_HTTP_PORT=str(port),
               RAPPORT_BROKER_ENDPOINT=f"tcp://127.0.0.1:{free_port()}",
               RAPPORT_FEED_ENDPOINT=f"tcp://127.0.0.1:{free_port()}",
               RAPPORT_LOG_LEVEL="warn")
    make = subprocess.Popen(["sh", "-c", f"sh tools/run.sh '{BUILD}'; true"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_until(lambda: health(port), 20 * SLOW, interval=0.1, what="the gateway's /health")
        # The first run made the admin key and keeps it private.
        key_file = os.path.join(data_dir, "admin.key")
        assert os.stat(key_file).st_mode & 0o077 == 0
        running = suite_pids(data_dir)
        names = {open(f"/proc/{pid}/comm").read().strip() for pid in running}
        assert {"rapport-broker", "rapport-gateway"} <= names, names
        assert any(name.startswith("rapport-custom") for name in names), names

        make.kill()  # make is gone; nobody signals the script
        make.wait()
        wait_until(lambda: not suite_pids(data_dir), 10 * SLOW, interval=0.1,
                   what="every process of the suite to stop")
        assert not health(port)
    finally:
        for pid in suite_pids(data_dir):
            os.kill(pid, signal.SIGKILL)
        if make.poll() is None:
            make.kill()
            make.wait()
        make.stdout.close()
