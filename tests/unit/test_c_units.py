"""Runs every C unit-test binary ($RAPPORT_BUILD/test/test_*) as one pytest test each.

A binary passes when it exits 0; its output is printed (pytest shows it on
failure, or always with -s).
"""

import glob
import os
import subprocess

import pytest

from conftest import BUILD, SLOW

BINARIES = sorted(p for p in glob.glob(os.path.join(BUILD, "test", "test_*"))
                  if os.access(p, os.X_OK) and os.path.isfile(p))


@pytest.mark.skipif(not BINARIES, reason=f"no unit-test binaries in {BUILD}/test (make build)")
@pytest.mark.parametrize("binary", BINARIES, ids=[os.path.basename(p) for p in BINARIES])
def test_c_unit(binary, tmp_path):
    # A scratch cwd (so a default ./var lands there) and no RAPPORT_* settings from
    # the caller's environment: self-tests check the defaults.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    try:
        proc = subprocess.run([binary], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120 * SLOW)
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode("utf-8", "replace")
        print(output)
        pytest.fail(f"{binary} did not finish within {120 * SLOW} s")
    output = proc.stdout.decode("utf-8", "replace")
    print(output)
    assert proc.returncode == 0, f"{os.path.basename(binary)} exited with {proc.returncode}\n{output}"
