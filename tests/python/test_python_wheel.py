"""The package as a user installs it: `pip wheel --no-build-isolation` builds a wheel from
pyproject.toml (offline, reusing the build tree under test through DOLIBAK_CMAKE_BUILD_DIR),
a fresh virtual environment installs it without an index, and the installed package runs
examples/python/backup_and_verify.py against the PostgreSQL fixture and a file:// store."""
import json
import os
import subprocess
import sys
import time

import pytest

import pgfixture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "python", "backup_and_verify.py")
PY = "/usr/bin/python3"  # Debian's interpreter, the one the module is built for

pytestmark = pytest.mark.skipif(not os.environ.get("DOLIBAK_PYTHONPATH"),
                                reason="DOLIBAK_PYTHONPATH does not name a build tree's python/")


def clean_env(**extra):
    """No libpq, AWS or DOLIBAK settings and no PYTHONPATH: only what is installed counts."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "AWS_", "DOLIBAK_", "PYTHON", "PIP_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A virtual environment with the wheel installed: (its python, the wheel's path)."""
    work = tmp_path_factory.mktemp("wheel")
    tree = os.path.dirname(os.path.abspath(os.environ["DOLIBAK_PYTHONPATH"]))
    start = time.monotonic()
    built = subprocess.run(
        [PY, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "--no-cache-dir", "-w", str(work / "dist"), ROOT],
        env=clean_env(DOLIBAK_CMAKE_BUILD_DIR=tree), capture_output=True, text=True,
        timeout=900)
    seconds = time.monotonic() - start
    assert built.returncode == 0, built.stdout + built.stderr
    print(f"pip wheel (reusing {tree}): {seconds:.1f} s")
    wheels = list((work / "dist").glob("dolibak-*.whl"))
    assert len(wheels) == 1, wheels
    # Platform-specific, for this interpreter (the extension's ABI).
    tag = "cp%d%d-cp%d%d-linux_" % (sys.version_info[:2] * 2)
    assert tag in wheels[0].name, wheels[0].name
    env_dir = work / "venv"
    subprocess.run([PY, "-m", "venv", str(env_dir)], check=True, env=clean_env(), timeout=300)
    python = str(env_dir / "bin" / "python")
    inst = subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-cache-dir",
                           str(wheels[0])], env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    return python, env_dir


def test_the_wheel_installs_into_the_venvs_site_packages(venv):
    python, env_dir = venv
    probe = subprocess.run([python, "-c", """if True:
        import json, sysconfig, dolibak
        libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libdolibak" in l})
        print(json.dumps({"file": dolibak.__file__, "platlib": sysconfig.get_path("platlib"),
                          "libs": libs, "version": dolibak.__version__,
                          "job": dolibak.Job.__module__}))
        """], env=clean_env(), capture_output=True, text=True, cwd="/", timeout=60)
    assert probe.returncode == 0, probe.stderr
    info = json.loads(probe.stdout)
    assert info["file"] == os.path.join(info["platlib"], "dolibak", "__init__.py")
    assert info["platlib"].startswith(str(env_dir) + "/")
    # The library the wheel carries, not the build tree's nor an installed one.
    assert info["libs"] == [os.path.join(info["platlib"], "dolibak", "libdolibak.so.0")]
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        assert f"VERSION {info['version']} " in f.read()
    # The stubs travel with it.
    assert os.path.isfile(os.path.join(info["platlib"], "dolibak", "py.typed"))
    assert os.path.isfile(os.path.join(info["platlib"], "dolibak", "job.pyi"))


def test_the_installed_package_runs_the_example(venv, fresh_db, tmp_path):
    python, _ = venv
    pgfixture.psql(fresh_db, "CREATE TABLE llx_facture (rowid serial PRIMARY KEY, ref text);"
                             "INSERT INTO llx_facture (ref) VALUES ('FA2401-0001');")
    store = tmp_path / "store"
    store.mkdir()
    docs = tmp_path / "documents"
    (docs / "facture" / "FA2401-0001").mkdir(parents=True)
    (docs / "facture" / "FA2401-0001" / "FA2401-0001.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(2048))
    (docs / "install.lock").write_text("")  # the dolibarr profile requires it
    env = clean_env(**pgfixture.libpq_env(fresh_db))
    p = subprocess.run([python, EXAMPLE, "--store", "file://" + str(store), "--docs-dir",
                        str(docs), "--json"], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout)
    outcomes = {h["half"]: h["outcome"] for h in report["backup"]["halves"]}
    assert outcomes.get("db") == "uploaded" and outcomes.get("docs") == "uploaded", outcomes
    assert report["verify"]["objects"] and all(o["ok"] for o in report["verify"]["objects"])
    assert report["backups"] >= 2 and report["status"]["stale"] is False
