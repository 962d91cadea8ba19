"""Starts `storywriter serve` with the tiny fixture model on a free loopback port for the Python tests."""
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"


def storywriter_binary() -> Path:
    binary = Path(os.environ.get("STORYWRITER_BIN", ROOT / ".build" / "release" / "storywriter"))
    if not binary.is_file():
        pytest.fail(f"no storywriter binary at {binary}: build it with `swift build -c release` first")
    return binary


def synthesize_tiny_storywriter(folder: Path) -> Path:
    """The Swift tests' tiny-storywriter checkpoint, made by `storywriter synth` from its committed recipe."""
    flags = json.loads((FIXTURES / "models" / "checkpoints.json").read_text())["tiny-storywriter"]
    model = folder / "tiny-storywriter"
    made = subprocess.run(
        [str(storywriter_binary()), "synth", str(model), *flags, "--tokenizer", str(FIXTURES / "tokenizer" / "tokenizer.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if made.returncode != 0:
        pytest.fail(f"storywriter synth failed: {made.stderr}")
    return model


@pytest.fixture(scope="session")
def server_url():
    with tempfile.TemporaryDirectory(prefix="storywriter-server-tests-") as folder, tempfile.TemporaryFile(mode="w+") as log:
        model = synthesize_tiny_storywriter(Path(folder))
        # A reading store of its own, removed with the folder: the tests never read or fill the user's.
        process = subprocess.Popen(
            [str(storywriter_binary()), "serve", "--model", str(model), "--port", "0", "--state-dir", str(Path(folder) / "store")],
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
