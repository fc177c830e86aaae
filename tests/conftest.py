"""Shared fixtures: the real rapport-broker process on free loopback ports.

RAPPORT_BUILD names the build directory (build, or build/asan for
`make test-asan`); paths are relative to the repository root.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import mdp  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("RAPPORT_BUILD", "build"))
UNDER_ASAN = "asan" in os.environ.get("RAPPORT_BUILD", "") or "ASAN_OPTIONS" in os.environ
# Sanitizers make the broker several times slower: deadlines that only bound
# a wait (never a sleep) may stretch by this factor.
SLOW = 4.0 if UNDER_ASAN else 1.0


def build_path(*parts):
    return os.path.join(BUILD, *parts)


def free_port():
    """A port the OS just handed out on loopback (released for the broker to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate until it returns a truthy value (returned) or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class BrokerExited(AssertionError):
    """The broker process ended while we waited for it to become ready."""


class Broker:
    """One rapport-broker process with its own data dir, ports and log file.

    start() waits for readiness (journal.head answers 200); stop() sends
    SIGTERM and returns the exit code; kill9() kills it without warning;
    restart() is stop() + start() and asserts the clean exit.
    """

    def __init__(self, tmp_path, env=None):
        self.binary = build_path("bin", "rapport-broker")
        self.data_dir = str(tmp_path / "data")
        self.log_path = str(tmp_path / "broker.log")
        os.makedirs(self.data_dir, exist_ok=True)
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.feed = f"tcp://127.0.0.1:{free_port()}"
        self.env = dict(os.environ)
        self.env.update({
            "RAPPORT_DATA_DIR": self.data_dir,
            "RAPPORT_BROKER_ENDPOINT": self.endpoint,
            "RAPPORT_FEED_ENDPOINT": self.feed,
            "RAPPORT_LOG_LEVEL": "debug",
            "RAPPORT_CONFIG_DIR": os.path.join(ROOT, "config"),
        })
        if UNDER_ASAN:
            # ASan keeps freed memory in a quarantine of up to 256 MiB, which would
            # hide (or fake) growth in the memory-bound tests; keep it small.
            options = self.env.get("ASAN_OPTIONS", "")
            self.env["ASAN_OPTIONS"] = (options + ":" if options else "") + "quarantine_size_mb=4"
        self.env.update(env or {})
        self.proc = None
        self.starts = 0

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=15.0):
        """Start and wait until ready. On a first start that fails (a port taken between
        free_port() and the bind, by a test running in parallel), try new ports."""
        for attempt in range(3):
            try:
                return self._start(timeout)
            except BrokerExited:
                if self.starts > 1 or attempt == 2:
                    raise
                self.endpoint = f"tcp://127.0.0.1:{free_port()}"
                self.feed = f"tcp://127.0.0.1:{free_port()}"
                self.env["RAPPORT_BROKER_ENDPOINT"] = self.endpoint
                self.env["RAPPORT_FEED_ENDPOINT"] = self.feed
                self.starts = 0

    def _start(self, timeout):
        if not os.access(self.binary, os.X_OK):
            pytest.fail(f"{self.binary} is not built (run make build)")
        log = open(self.log_path, "ab")
        log.write(f"==== start #{self.starts + 1} ({self.endpoint}, feed {self.feed}) ====\n"
                  .encode())
        log.flush()
        self.proc = subprocess.Popen([self.binary], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1
        self.wait_ready(timeout * SLOW)
        return self

    def wait_ready(self, timeout):
        """Poll journal.head (a fresh socket per try) until it answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BrokerExited(f"broker exited with {self.proc.returncode} at start\n"
                                     + self.log_tail())
            with mdp.Client(self.endpoint) as client:
                try:
                    reply = client.call("journal", "journal.head", {}, timeout=0.25)
                    if reply.get("status") == 200:
                        return
                except TimeoutError:
                    pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"broker not ready within {timeout} s\n" + self.log_tail())

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"broker did not exit within {timeout * SLOW} s of SIGTERM\n"
                                 + self.log_tail())

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self):
        code = self.stop()
        assert code == 0, f"broker exited with {code} on SIGTERM\n" + self.log_tail()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=60):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "---- broker log tail ----\n" + "\n".join(text.splitlines()[-lines:])

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def client(self):
        return mdp.Client(self.endpoint)

    def worker(self, service, handler=mdp.echo_handler, **kwargs):
        return mdp.Worker(self.endpoint, service, handler, **kwargs)

    def finish(self):
        """Teardown: SIGTERM must give exit code 0 (under ASan: no leaks)."""
        if self.proc is None:
            return
        code = self.stop()
        assert code == 0, f"broker exited with {code} on SIGTERM\n" + self.log_tail()


@pytest.fixture
def broker_factory(tmp_path, request):
    """make(env=None, name=None) → a started Broker; all are stopped (exit 0 asserted)."""
    brokers = []
    request.node._rapport_brokers = brokers

    def make(env=None, name=None):
        path = tmp_path / (name or f"broker{len(brokers)}")
        path.mkdir()
        b = Broker(path, env)
        brokers.append(b)
        return b.start()

    yield make
    failures = []
    for b in brokers:
        try:
            b.finish()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def broker(broker_factory):
    """A started broker with default settings."""
    return broker_factory()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed test, attach the broker log tails to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        for i, b in enumerate(getattr(item, "_rapport_brokers", [])):
            report.sections.append((f"broker {i} log", b.log_tail(80)))
