"""One Rapport program run by a test: its own data dir and log, started
against a test broker, stopped with SIGTERM (which must exit 0) or killed."""

import os
import signal
import subprocess

from conftest import SLOW


class ServiceProcess:
    def __init__(self, name, binary, broker, data_dir, env=None, cwd=None):
        os.makedirs(data_dir, exist_ok=True)
        self.name = name
        self.data_dir = str(data_dir)
        self.log_path = os.path.join(self.data_dir, f"{name}.log")
        full_env = dict(broker.env)
        full_env.update({"RAPPORT_DATA_DIR": self.data_dir, "RAPPORT_LOG_LEVEL": "info"})
        full_env.update(env or {})
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([binary], cwd=cwd, env=full_env, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.killed = False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.killed = True

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not exit on SIGTERM\n" + self.log_tail())
        return self.proc.returncode

    def log_tail(self, lines=40):
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return f"---- {self.name} {self.pid} log tail ----\n" + "\n".join(
            text.splitlines()[-lines:])
