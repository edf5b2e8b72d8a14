"""The scheduler's path: build the wheel and the sdist from the repository, install the wheel
into a new virtual environment, and render the reports there from another folder.

The new environment gets the dependencies, cheaply, by a ``.pth`` line naming this
environment's site-packages (a path line adds the folder to ``sys.path`` without running the
``.pth`` files found there, so the editable install of the checkout stays out) and a link to
nbconvert's templates. ``cxreports`` itself can only come from the wheel: the test checks where
it comes from, in the shell and in the report's kernel.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: What the build reads; the rest of a clone (tests, docs, CI) is not packaged.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "cxreports", "notebooks")
PROBE = """\
import sys

import cxreports

print("executable", sys.executable)
print("package", cxreports.__file__)
"""


def _sh(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel and the sdist, built from a copy of the repository's build inputs."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        source = ROOT / name
        if source.is_dir():
            # (and not the compiled part an editable install left: the build makes its own)
            ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc", "*.so")
            shutil.copytree(source, src / name, ignore=ignore)
        else:
            shutil.copy2(source, src / name)
    out = tmp_path_factory.mktemp("dist")
    # this environment's setuptools, not a download: the build backend the project declares
    _sh(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", out],
        cwd=src,
    )  # fmt: skip
    code = f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})"
    _sh([sys.executable, "-c", code], cwd=src)
    [wheel] = out.glob("cxreports-*.whl")
    [sdist] = out.glob("cxreports-*.tar.gz")
    return wheel, sdist


def _shipped() -> dict[str, Path]:
    """Every file rendering needs besides the code: package path -> file in the repository."""
    files = {f"cxreports/notebooks/{p.name}": p for p in (ROOT / "notebooks").glob("*.ipynb")}
    templates = ROOT / "cxreports" / "templates"
    for path in templates.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(ROOT).as_posix()] = path
    return files


def test_the_wheel_and_the_sdist_carry_the_notebooks_and_templates(dist, tmp_path):
    wheel, sdist = dist
    shipped = _shipped()
    assert len([k for k in shipped if k.endswith(".ipynb")]) >= 3
    with zipfile.ZipFile(wheel) as whl:
        for name, path in shipped.items():
            assert whl.read(name) == path.read_bytes(), name
        names = whl.namelist()
    # notebooks/ is mapped into the package, not installed as a top-level package of its own
    assert not [n for n in names if n.startswith("notebooks/")]
    # the scan for repeated JSON keys, compiled (and its source in the sdist, below)
    assert [n for n in names if re.fullmatch(r"cxreports/_jsonkeys\.cpython-.*\.so", n)], names
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for name in shipped:
        in_sdist = name.replace("cxreports/notebooks/", "notebooks/")
        assert in_sdist in members, in_sdist
    assert "pyproject.toml" in members and "cxreports/_jsonkeys.c" in members
    # and a wheel built from the sdist (what `pip install cxreports-0.1.0.tar.gz` does) maps them
    _sh(
        [sys.executable, "-m", "pip", "wheel", sdist, "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", tmp_path],
        cwd=tmp_path,
    )  # fmt: skip
    [rebuilt] = tmp_path.glob("cxreports-*.whl")
    with zipfile.ZipFile(rebuilt) as whl:
        for name, path in shipped.items():
            assert whl.read(name) == path.read_bytes(), name


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A new virtual environment with the wheel installed; its bin folder and environment."""
    wheel, _ = dist
    venv = tmp_path_factory.mktemp("venv")
    _sh([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv)
    python = venv / "bin" / "python"
    purelib = _sh([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], venv)
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib.strip(), "_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    # nbconvert's base templates are data files that pip puts in <env>/share/jupyter
    data = venv / "share" / "jupyter"
    data.mkdir(parents=True)
    (data / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")
    _sh(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "-q", wheel],
        cwd=venv,
    )  # fmt: skip
    state = tmp_path_factory.mktemp("jupyter")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        # no kernel spec of this machine's user: the kernel is the environment's own python3
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
    }
    return venv, env


def test_the_installed_wheel_renders_and_mails_from_another_folder(installed, tmp_path):
    venv, env = installed
    bin_ = venv / "bin"
    site = _sh([bin_ / "python", "-c", "import cxreports; print(cxreports.__file__)"], tmp_path)
    assert Path(site.strip()).is_relative_to(venv), "cxreports must come from the wheel"
    assert ROOT not in Path(site.strip()).parents

    work = tmp_path / "elsewhere"
    work.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("source = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(PROBE),
    ]
    nbformat.write(nb, work / "probe.ipynb")
    cx = bin_ / "cxreports"
    _sh([cx, "sample", "--out", "pages", "--records", "800", "--weeks", "2"], work, env)
    _sh([cx, "load", "pages", "--out", "store"], work, env)
    printed = _sh(
        [cx, "report", "all", "store", "--week", "2026-W13", "--tz", "Asia/Singapore",
         "--out", "out", "--notebook", "probe.ipynb", "--format", "html,pdf"],
        work, env,
    )  # fmt: skip
    week = work / "out" / "2026-W13"
    for name in ("agent-performance", "csat-sla"):
        assert str(week / f"{name}.pdf") in printed
        assert "Input fingerprint" in (week / f"{name}.html").read_text()
        assert len(PdfReader(week / f"{name}.pdf").pages) >= 3
    # the kernel ran the environment's python, and imported the wheel's cxreports
    probe = nbformat.read(week / "probe.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in probe.cells for o in c.get("outputs", []))
    assert f"executable {bin_ / 'python'}" in text
    assert f"package {site.strip()}" in text

    _sh([cx, "send", "out/2026-W13", "--to", "lead@example.com", "--dry-run"], work, env)
    message = email.message_from_bytes(
        (week / "email" / "message.eml").read_bytes(), policy=email.policy.default
    )
    assert {p.get_filename() for p in message.iter_attachments()} == {
        f"{name}.{fmt}"
        for name in ("agent-performance", "csat-sla", "probe")
        for fmt in ("html", "pdf")
    }

    # the analyst's path: the notebooks come out of the wheel, pointed at the store
    _sh(
        [cx, "notebooks", "--out", "analysis", "--source", "store", "--week", "2026-W13"], work, env
    )
    copied = sorted(p.name for p in (work / "analysis").glob("*.ipynb"))
    assert copied == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    cell = json.loads((work / "analysis" / "csat_sla.ipynb").read_text())["cells"][0]
    assert f'source = "{work / "store"}"' in "".join(cell["source"])
