"""Starts `storywriter serve` with the tiny fixture model on a free loopback port for the Python tests."""
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT.parent / "shared" / "fixtures" / "models" / "tiny-storywriter"


def storywriter_binary() -> Path:
    binary = Path(os.environ.get("STORYWRITER_BIN", ROOT / ".build" / "release" / "storywriter"))
    if not binary.is_file():
        pytest.fail(f"no storywriter binary at {binary}: build it with `swift build -c release` first")
    return binary


@pytest.fixture(scope="session")
def server_url():
    if not MODEL.is_dir():
        pytest.fail(f"missing fixture {MODEL}: the tests need ../shared/fixtures beside the project root")
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [str(storywriter_binary()), "serve", "--model", str(MODEL), "--port", "0"],
            stdout=subprocess.DEVNULL, stderr=log, env={k: v for k, v in os.environ.items() if k != "STORYWRITER_MODEL"})
        try:
            deadline = time.monotonic() + 30
            while True:
                log.seek(0)
                found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read())
                if found:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"storywriter serve did not start: {log.read()}")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{found.group(1)}"
        finally:
            process.terminate()
            process.wait(timeout=30)
