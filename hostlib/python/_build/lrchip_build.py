"""An in-tree PEP 517 build backend for the lrchip package that needs nothing from a package
index (so that pip installs it offline): it writes the wheel itself, with liblrchip.so inside.

The library is $LRCHIP_LIBRARY if set; else, in an lrchip checkout with Go available, built
by scripts/build-hostlib.sh; else the checkout's build/liblrchip.so."""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # hostlib/python
REPO = HERE.parent.parent


def _project():
    with open(HERE / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}", f"Summary: {p['description']}",
             f"Requires-Python: {p['requires-python']}"]
    lines += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
    return "\n".join(lines) + "\n\n" + (HERE / "README.md").read_text()


def _go():
    go = shutil.which("go")
    if go:
        return go
    if os.access("/usr/local/go/bin/go", os.X_OK):
        return "/usr/local/go/bin/go"
    return None


def _library(tmp):
    env = os.environ.get("LRCHIP_LIBRARY")
    if env:
        # pip runs this in the package's directory: a relative path may be the checkout's.
        for cand in (Path(env), REPO / env):
            if cand.is_file():
                return cand
        raise RuntimeError(f"lrchip build: LRCHIP_LIBRARY={env} is not a file (give an absolute path)")
    script = REPO / "scripts" / "build-hostlib.sh"
    if script.is_file() and _go():
        out = Path(tmp) / "build"
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "") + os.pathsep + str(Path(_go()).parent)
        subprocess.run(["bash", str(script), "--out", str(out)], check=True, cwd=REPO, env=env, stdout=sys.stderr)
        return out / "liblrchip.so"
    built = REPO / "build" / "liblrchip.so"
    if built.is_file():
        return built
    raise RuntimeError("lrchip build: no liblrchip.so: set LRCHIP_LIBRARY to one, or install from an lrchip "
                       "checkout with Go (scripts/build-hostlib.sh builds it)")


def _tag():
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"py3-none-{plat}"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    # Metadata without building the library (else pip would build it twice).
    p = _project()
    dist = Path(metadata_directory) / f"{p['name']}-{p['version']}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(_metadata())
    (dist / "WHEEL").write_text(f"Wheel-Version: 1.0\nGenerator: lrchip_build\nRoot-Is-Purelib: false\nTag: {_tag()}\n")
    return dist.name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    p = _project()
    name, version = p["name"], p["version"]
    tag = _tag()
    dist = f"{name}-{version}.dist-info"
    wheel = Path(wheel_directory) / f"{name}-{version}-{tag}.whl"
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for f in sorted((HERE / "lrchip").glob("*.py")):
            files[f"lrchip/{f.name}"] = f.read_bytes()
        files["lrchip/liblrchip.so"] = _library(tmp).read_bytes()
        files[f"{dist}/METADATA"] = _metadata().encode()
        files[f"{dist}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: lrchip_build\nRoot-Is-Purelib: false\nTag: {tag}\n").encode()
        record = [_record_line(n, d) for n, d in files.items()] + [f"{dist}/RECORD,,"]
        files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
            for n, d in files.items():
                info = zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if n.endswith(".so") else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, d)
    return wheel.name


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    base = f"{p['name']}-{p['version']}"
    path = Path(sdist_directory) / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for f in ["pyproject.toml", "README.md", "_build/lrchip_build.py", *[f"lrchip/{x.name}" for x in (HERE / "lrchip").glob("*.py")]]:
            t.add(HERE / f, arcname=f"{base}/{f}")
        pkg = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode()
        pkg.size = len(data)
        import io
        t.addfile(pkg, io.BytesIO(data))
    return path.name
