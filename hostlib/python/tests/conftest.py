import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = str(REPO / "examples" / "pipeline" / "pipeline.yaml")


@pytest.fixture(scope="session")
def example():
    return EXAMPLE


@pytest.fixture(scope="session")
def lrctl(tmp_path_factory):
    """The lrctl binary: $LRCHIP_LRCTL, else built from this checkout."""
    path = os.environ.get("LRCHIP_LRCTL")
    if path:
        return path
    out = tmp_path_factory.mktemp("bin") / "lrctl"
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/local/go/bin")
    subprocess.run(["go", "build", "-o", str(out), "./cmd/lrctl"], cwd=REPO, check=True, env=env)
    return str(out)


@pytest.fixture
def emu_process(lrctl, tmp_path_factory):
    """An emulated board in its own process (lrctl emu serve); yields its URI."""
    import tempfile
    import time
    d = tempfile.mkdtemp(prefix="lrp")  # short: socket paths are limited to 108 bytes
    sock = os.path.join(d, "emu.sock")
    p = subprocess.Popen([lrctl, "emu", "serve", "--socket", sock], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()  # "serving ... on emu:unix:PATH" once it listens
    assert "emu:unix:" in line, line
    yield "emu:unix:" + sock
    p.kill()
    p.wait()
    try:
        os.remove(sock)
        os.rmdir(d)
    except OSError:
        pass
    del time
