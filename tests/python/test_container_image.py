"""The container image of examples/docker/Dockerfile, built with podman and run.

Nothing comes from a registry: the Debian bookworm base is made here by mmdebstrap from this
machine's apt sources, with the runtime stage's packages already in it, and imported into
podman. The image is then built from the shipped Dockerfile's real runtime stage, with the
build stage replaced (`--build-context build=DIR`) by an install of the tree this suite tests
(DOLIBAK_PYTHONPATH's build): compiling the project again inside a container would cost about
25 minutes on two cores. The runtime stage's own `RUN apt-get update && apt-get install` runs
as written (it finds its packages installed; only the index download needs the network).

What the tests prove about the image:
* its configuration: user 10001:10001, ENTRYPOINT ["dolibak"], CMD ["--help"], TMPDIR, and the
  dolibak binary in it is the one installed from the build tree;
* it runs as uid 10001, whose passwd and group entries are both named dolibak;
* `--version` and the default command work (every library the binaries link is in it);
* a real backup of a database of the PostgreSQL fixture (on loopback, --network=host) and of a
  documents directory into a mounted file:// store, then `verify`, as compose runs it: root
  file system read-only, every capability dropped, no-new-privileges; the database password
  reaches the container only in the mounted config file (never on podman's command line nor
  in the container's environment) and never appears in any output; the host's dolibak reads
  the same store back;
* `dolibak-schedule once` (the compose service's entrypoint) runs the documented backup and
  status commands and writes both metrics files, reading documents that only the web
  server's group (33, compose's group_add) may read;
* `dolibak-schedule` in loop mode announces its next run and stops at once on SIGTERM
  (podman stop), with exit status 143.

Skipped only when podman cannot run a container here (podman missing, `podman info`
failing, or a trivial container of the base failing with every OCI runtime present), when
mmdebstrap is missing, or without a build tree; any other failure fails.

The base tarball is cached under $DOLIBAK_CONTAINER_CACHE (default ~/.cache/dolibak/container-base),
one file per key (the package list, the apt sources, the mmdebstrap options); set
DOLIBAK_CONTAINER_CACHE=off to make it afresh. Images and containers are removed afterwards.
"""
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import time

import pytest

import pgfixture

import json_contract
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(ROOT, "examples", "docker", "Dockerfile")
IMAGE_UID = 10001
WWW_DATA_GID = 33  # Debian's www-data: the web server's group, compose's group_add
MMDEBSTRAP_OPTIONS = [
    "--variant=minbase", "--format=tar",
    # As debian:bookworm-slim: no documentation, manual pages or translations.
    "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    # No fsync after every file (as debian:bookworm-slim's dpkg configuration): on a loaded
    # machine this took mmdebstrap from about 150 s to about 55 s (with the tmpfs below).
    "--dpkgopt=force-unsafe-io",
]
TIMINGS = []


def timed(step, started):
    TIMINGS.append((step, time.monotonic() - started))


def dockerfile_stages():
    with open(DOCKERFILE, encoding="utf-8") as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages = {}
    for chunk in re.split(r"(?m)^FROM\s+", text)[1:]:
        m = re.match(r"\S+\s+AS\s+(\S+)", chunk)
        assert m, chunk.splitlines()[0]
        stages[m.group(1)] = chunk
    assert set(stages) == {"build", "runtime"}, sorted(stages)
    return stages


def runtime_packages():
    packages = []
    for m in re.finditer(r"apt-get install([^&;\n]*)", dockerfile_stages()["runtime"]):
        packages += [w for w in m.group(1).split() if not w.startswith("-")]
    assert "postgresql-client-15" in packages, packages
    return packages


def build_stage_removals():
    """The paths under /staging the build stage deletes after its install."""
    paths = []
    for m in re.finditer(r"rm -rf((?:\s+/staging/\S+)+)", dockerfile_stages()["build"]):
        paths += m.group(1).split()
    assert paths, "the build stage removes the headers and the CMake/pkg-config files"
    return paths


def debian_sources():
    """This machine's apt sources for Debian bookworm (and its -updates and -security suites),
    as one-line entries for mmdebstrap."""
    lines = []
    one_line = ["/etc/apt/sources.list"]
    deb822 = []
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            (one_line if name.endswith(".list") else deb822 if name.endswith(".sources") else []).append(
                os.path.join(d, name))
    for path in one_line:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(bookworm\S*)\s+(.+)$",
                             line.split("#", 1)[0].strip())
                if m:
                    lines.append(" ".join(m.group(0).split()))
    for path in deb822:
        with open(path, encoding="utf-8") as f:
            stanzas = f.read().split("\n\n")
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[0].isspace():
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.split()
            if "deb" not in fields.get("types", []) or fields.get("enabled", ["yes"]) == ["no"]:
                continue
            opts = "[signed-by=%s] " % fields["signed-by"][0] if fields.get("signed-by") else ""
            for uri in fields.get("uris", []):
                for suite in fields.get("suites", []):
                    if suite.startswith("bookworm"):
                        lines.append("deb %s%s %s %s" % (opts, uri, suite, " ".join(fields["components"])))
    return lines


def tool_env():
    """This process's environment without libpq's or dolibak's variables: podman, mmdebstrap
    and the host's dolibak never inherit a password from the test run."""
    return {k: v for k, v in pgfixture.clean_env().items() if not k.startswith("DOLIBAK_")}


class Podman:
    """podman with the OCI runtime that works here, the ulimits it may set, and a record of
    every command line (checked for secrets)."""

    def __init__(self, runtime):
        self.prefix = ["podman"] + (["--runtime", runtime] if runtime else [])
        self.runtime = runtime or "podman's default"
        # Containers get this process's limits, not podman's defaults (nofile 1048576), which
        # an unprivileged or capped root (no CAP_SYS_RESOURCE) cannot raise to.
        self.limits = []
        for name, which, cap in (("nofile", resource.RLIMIT_NOFILE, 65536),
                                 ("nproc", resource.RLIMIT_NPROC, 4096)):
            hard = resource.getrlimit(which)[1]
            n = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
            self.limits += ["--ulimit", "%s=%d:%d" % (name, n, n)]
        self.argvs = []

    def __call__(self, *args, timeout=300, check=True):
        argv = self.prefix + list(args)
        self.argvs.append(argv)
        p = subprocess.run(argv, env=tool_env(), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, "%s: exit %d\n%s\n%s" % (
                " ".join(argv), p.returncode, p.stdout[-3000:], p.stderr[-3000:])
        return p

    def run(self, image, *args, options=(), **kw):
        return self("run", "--rm", *self.limits, *options, image, *args, **kw)


def base_tarball(cache_root, work):
    """The Debian bookworm base with the runtime stage's packages: from the cache, or made
    now by mmdebstrap (then kept in the cache). Returns (path, made_now)."""
    sources = debian_sources()
    if not sources:
        pytest.fail("no Debian bookworm entry in this machine's apt sources (/etc/apt)")
    packages = runtime_packages()
    key = hashlib.sha256(json.dumps({"packages": sorted(packages), "sources": sources,
                                     "options": MMDEBSTRAP_OPTIONS}).encode()).hexdigest()[:16]
    cached = os.path.join(cache_root, "bookworm-%s.tar" % key) if cache_root else None
    if cached and os.path.exists(cached):
        return cached, False
    out = os.path.join(work, "base.tar")
    sources_file = os.path.join(work, "sources.list")
    with open(sources_file, "w", encoding="utf-8") as f:
        f.write("\n".join(sources) + "\n")
    env = tool_env()
    # The chroot in memory when there is room: its unpacking and removal are disk-bound.
    try:
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize > 2 << 30 and os.access("/dev/shm", os.W_OK):
            env["TMPDIR"] = "/dev/shm"
    except OSError:
        pass
    p = subprocess.run(["nice", "mmdebstrap", *MMDEBSTRAP_OPTIONS, "--include=" + ",".join(packages),
                        "bookworm", out, sources_file], env=env, capture_output=True,
                       text=True, timeout=1200, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "mmdebstrap failed:\n" + p.stderr[-4000:]
    if not cached:
        return out, True
    os.makedirs(cache_root, exist_ok=True)
    partial = cached + ".partial-%d" % os.getpid()
    shutil.move(out, partial)
    os.replace(partial, cached)
    return cached, True


def pick_runtime(base):
    """The first OCI runtime with which a trivial container of `base` runs: podman's default,
    else runc, else crun (crun refuses hosts whose cgroup v2 hierarchy has controllers beside
    v1, "hybrid" mode; runc accepts them). None, and the reasons, when none does."""
    candidates = [None] + [r for r in ("runc", "crun") if shutil.which(r)]
    forced = os.environ.get("DOLIBAK_PODMAN_RUNTIME")
    if forced:
        candidates = [forced]
    errors = []
    for runtime in candidates:
        podman = Podman(runtime)
        p = podman.run(base, "/bin/sh", "-c", "echo ok", options=["--network", "none"],
                       check=False, timeout=120)
        if p.returncode == 0 and p.stdout.strip() == "ok":
            return podman, errors
        errors.append("%s: %s" % (podman.runtime, (p.stderr.strip() or p.stdout.strip())[-300:]))
    return None, errors


def build_tree():
    py = os.environ.get("DOLIBAK_PYTHONPATH")
    build = os.path.dirname(os.path.abspath(py)) if py else None
    if not build or not os.path.exists(os.path.join(build, "bin", "dolibak")) \
            or not os.path.exists(os.path.join(build, "cmake_install.cmake")):
        pytest.skip("needs a build tree with bin/dolibak (DOLIBAK_PYTHONPATH=<build>/python)")
    return build


def stage_install(build, context):
    """`cmake --install` of the build tree under context/staging, trimmed as the Dockerfile's
    build stage trims its own (and without the Python package, which that build leaves out)."""
    staging = os.path.join(context, "staging")
    env = dict(tool_env(), DESTDIR=staging)
    p = subprocess.run(["cmake", "--install", build, "--prefix", "/usr/local"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    for path in build_stage_removals() + ["/staging/usr/local/lib/python3"]:
        shutil.rmtree(os.path.join(context, path.lstrip("/")), ignore_errors=True)
    binary = os.path.join(staging, "usr", "local", "bin", "dolibak")
    assert os.access(binary, os.X_OK), binary
    return binary


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (tools/setup-debian installs it)")
    info = subprocess.run(["podman", "info", "--format", "json"], env=tool_env(), capture_output=True,
                          text=True, timeout=120)
    if info.returncode != 0:
        pytest.skip("podman cannot run here: `podman info` failed: " + info.stderr.strip()[-300:])
    if os.geteuid() != 0:
        pytest.skip("runs as root only: the mounted files must belong to the image's uid 10001 "
                    "and group 33, which rootless podman maps elsewhere")
    if not shutil.which("mmdebstrap"):
        pytest.skip("mmdebstrap is not installed (tools/setup-debian installs it)")
    build = build_tree()
    work = str(tmp_path_factory.mktemp("image"))
    os.chmod(work, 0o755)
    tag = secrets.token_hex(6)
    base_ref = "localhost/dolibak-test-base:" + tag
    image_ref = "localhost/dolibak-test:" + tag
    cache = os.environ.get("DOLIBAK_CONTAINER_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "dolibak", "container-base"))
    cache = None if cache in ("", "off") else cache
    TIMINGS.clear()
    try:
        t = time.monotonic()
        tarball, made = base_tarball(cache, work)
        timed("base tarball (%s)" % ("mmdebstrap" if made else "cached"), t)

        t = time.monotonic()
        p = subprocess.run(["podman", "import", tarball, base_ref], env=tool_env(), capture_output=True,
                           text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        timed("podman import", t)

        t = time.monotonic()
        podman, errors = pick_runtime(base_ref)
        timed("runtime probe", t)
        if podman is None:
            pytest.skip("podman cannot start a container here: " + "; ".join(errors))

        t = time.monotonic()
        context = os.path.join(work, "artifacts")
        binary = stage_install(build, context)
        timed("cmake --install (staging)", t)

        t = time.monotonic()
        # The host's network: the runtime stage's apt-get update needs no bridge, iptables
        # or CNI set-up (the runs use the host's network too, to reach the fixture's loopback).
        p = podman("build", "--pull=never", "--layers=false", "--network", "host", *podman.limits,
                   "-f", DOCKERFILE, "--target", "runtime",
                   "--build-arg", "BASE_IMAGE=" + base_ref, "--build-context", "build=" + context,
                   "-t", image_ref, ROOT, timeout=900)
        timed("podman build (runtime stage)", t)
        log = p.stdout + p.stderr
        # The build stage was replaced, not run: no compiler step in the log.
        assert "cmake -S" not in log and "cmake --build" not in log, log[-3000:]
        # The runtime stage's RUN ran (its useradd is what gives uid 10001 a name).
        assert "apt-get install" in log and "COPY --from=build" in log, log[-3000:]
        print("\ncontainer image (%s): %s" % (podman.runtime, ", ".join(
            "%s %.1f s" % (s, d) for s, d in TIMINGS)), file=sys.stderr)
        yield {"podman": podman, "ref": image_ref, "binary": binary, "build": build}
    finally:
        subprocess.run(["podman", "rmi", "--force", image_ref, base_ref], env=tool_env(),
                       capture_output=True, timeout=300)


def test_image_configuration(image):
    podman = image["podman"]
    (cfg,) = json.loads(podman("image", "inspect", image["ref"]).stdout)
    config = cfg["Config"]
    assert config["User"] == "%d:%d" % (IMAGE_UID, IMAGE_UID)
    assert config["Entrypoint"] == ["dolibak"]
    assert config["Cmd"] == ["--help"]
    assert "TMPDIR=/tmp" in config["Env"]
    # The image carries the binary of the tree under test, and the scheduler.
    p = podman.run(image["ref"], "/usr/local/bin/dolibak", "/usr/local/bin/dolibak-schedule",
                   options=["--entrypoint", "sha256sum"])
    sums = dict(reversed(line.split()) for line in p.stdout.splitlines())
    assert sums["/usr/local/bin/dolibak"] == sha256_file(image["binary"])
    assert sums["/usr/local/bin/dolibak-schedule"] == sha256_file(
        os.path.join(ROOT, "examples", "docker", "dolibak-schedule"))


def test_runs_as_uid_10001_with_its_libraries(image):
    podman = image["podman"]
    p = podman.run(image["ref"], options=["--entrypoint", "id"])
    assert p.stdout.strip() == "uid=10001(dolibak) gid=10001(dolibak) groups=10001(dolibak)"
    host = subprocess.run([os.path.join(image["build"], "bin", "dolibak"), "--version"], env=tool_env(),
                          capture_output=True, text=True, check=True).stdout
    assert podman.run(image["ref"], "--version").stdout == host
    # The default command is --help; every library resolves (ldd names none missing).
    assert "Subcommands:" in podman.run(image["ref"]).stdout
    ldd = podman.run(image["ref"], "/usr/local/bin/dolibak", "/usr/local/lib/libdolibak.so.0",
                     options=["--entrypoint", "ldd"]).stdout
    assert "not found" not in ldd and "libpq.so.5" in ldd, ldd
    for tool in ("pg_dump", "pg_restore", "pg_dumpall"):
        out = podman.run(image["ref"], "--version", options=["--entrypoint", tool]).stdout
        assert out.startswith(tool + " (PostgreSQL) 15."), out


@pytest.fixture
def deployment(image, fresh_db, pg_server, tmp_path):
    """A small Dolibarr-like database, a documents tree only group 33 can read, an empty store
    and a metrics directory writable by uid 10001, and the config file holding the password
    (mode 0600, owned by 10001), as examples/compose mounts them."""
    pgfixture.psql(fresh_db, "CREATE TABLE llx_facture (rowid serial PRIMARY KEY, ref text, total numeric);"
                             "INSERT INTO llx_facture (ref, total) SELECT 'FA2401-' || g, g * 10.5 "
                             "FROM generate_series(1, 200) g;", bin_dir=pg_server["bin_dir"])
    root = tmp_path / "deploy"
    root.mkdir()
    docs = root / "documents"
    (docs / "facture" / "FA2401-1").mkdir(parents=True)
    (docs / "facture" / "FA2401-1" / "FA2401-1.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(20000))
    (docs / "install.lock").write_text("")  # the dolibarr profile requires it
    for dirpath, dirs, files in os.walk(docs):
        os.chown(dirpath, 0, WWW_DATA_GID)
        os.chmod(dirpath, 0o750)
        for name in files:
            os.chown(os.path.join(dirpath, name), 0, WWW_DATA_GID)
            os.chmod(os.path.join(dirpath, name), 0o640)
    for name in ("store", "metrics"):
        (root / name).mkdir()
        os.chown(root / name, IMAGE_UID, IMAGE_UID)
    config = root / "dolibak.json"
    config.write_text(json.dumps({
        "store": "file:///store", "profile": "dolibarr", "db_host": "127.0.0.1",
        "db_port": int(fresh_db["port"]), "db_user": fresh_db["user"], "db_name": fresh_db["dbname"],
        "db_password": fresh_db["password"], "docs_dir": "/documents", "temp_dir": "/scratch",
        "retention": "tiered", "prune_after_backup": True,
    }))
    os.chown(config, IMAGE_UID, IMAGE_UID)
    os.chmod(config, 0o600)
    # compose.yaml's hardening and mounts; the password is only inside the mounted file.
    options = ["--network", "host", "--read-only", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "--group-add", str(WWW_DATA_GID),
               "-v", "%s:/etc/dolibak/dolibak.json:ro" % config,
               "-v", "%s:/documents:ro" % docs, "-v", "%s:/store" % (root / "store"),
               "-v", "%s:/metrics" % (root / "metrics"), "--tmpfs", "/scratch:mode=1777",
               "-e", "DOLIBAK_CONFIG=/etc/dolibak/dolibak.json"]
    yield {"root": root, "options": options, "password": fresh_db["password"]}
    podman = image["podman"]
    for argv in podman.argvs:
        assert not any(fresh_db["password"] in a for a in argv), "a password on podman's command line"


def halves(report):
    return {h["half"]: h["outcome"] for h in report["halves"]}


def test_backup_and_verify_in_the_container(image, deployment):
    podman, ref, options = image["podman"], image["ref"], deployment["options"]
    p = podman.run(ref, "backup", "--json", options=options)
    assert deployment["password"] not in p.stdout + p.stderr
    assert halves(json_contract.loads(p.stdout, "backup")) == {"db": "uploaded", "docs": "uploaded"}, p.stdout
    v = podman.run(ref, "verify", "--json", options=options)
    assert deployment["password"] not in v.stdout + v.stderr
    report = json_contract.loads(v.stdout, "verify")
    assert report["objects"] and all(o["ok"] for o in report["objects"]), v.stdout
    # The store the container wrote (its files owned by uid 10001) holds one backup of each
    # half, and the host's dolibak verifies it too.
    store = deployment["root"] / "store"
    owners = {os.stat(os.path.join(d, f)).st_uid for d, _dirs, files in os.walk(store) for f in files}
    assert owners == {IMAGE_UID}, owners
    host_dolibak = os.path.join(image["build"], "bin", "dolibak")
    listing = json_contract.loads(subprocess.run([host_dolibak, "list", "--json", "--store", "file://%s" % store],
                                        env=tool_env(), capture_output=True, text=True, timeout=120,
                                        check=True).stdout, "list")
    assert sorted(b["half"] for b in listing["backups"]) == ["db", "docs"], listing["backups"]
    host_verify = subprocess.run([host_dolibak, "verify", "--json", "--store", "file://%s" % store],
                                 env=tool_env(), capture_output=True, text=True, timeout=120)
    assert host_verify.returncode == 0, host_verify.stderr
    objects = json_contract.loads(host_verify.stdout, "verify")["objects"]
    assert len(objects) == len(report["objects"]) and all(o["ok"] for o in objects), objects
    # A second run finds both halves unchanged.
    again = podman.run(ref, "backup", "--json", options=options)
    assert halves(json_contract.loads(again.stdout, "backup")) == {"db": "unchanged", "docs": "unchanged"}, again.stdout


def test_schedule_entrypoint_as_compose_runs_it(image, deployment):
    podman, ref = image["podman"], image["ref"]
    options = deployment["options"] + ["--entrypoint", "dolibak-schedule",
                                       "-e", "DOLIBAK_METRICS_DIR=/metrics", "-e", "DOLIBAK_MAX_AGE=26h"]
    # `docker compose run --rm backup once`: the backup (with prune) and the status, now.
    p = podman.run(ref, "once", options=options)
    assert deployment["password"] not in p.stdout + p.stderr
    metrics = deployment["root"] / "metrics"
    assert sorted(os.listdir(metrics)) == ["dolibak_backup.prom", "dolibak_status.prom"]
    backup_prom = (metrics / "dolibak_backup.prom").read_text()
    status_prom = (metrics / "dolibak_status.prom").read_text()
    label = '{store="file:///store/"'
    for line in ("dolibak_backup_run_success%s} 1" % label, "dolibak_backup_prune_success%s} 1" % label,
                 'dolibak_backup_half_outcome%s,half="db",outcome="uploaded"} 1' % label,
                 'dolibak_backup_half_outcome%s,half="docs",outcome="uploaded"} 1' % label):
        assert line in backup_prom.splitlines(), (line, backup_prom)
    for line in ("dolibak_stale%s} 0" % label, "dolibak_last_run_success%s} 1" % label):
        assert line in status_prom.splitlines(), (line, status_prom)
    assert (metrics / "dolibak_backup.prom").stat().st_uid == IMAGE_UID
    listing = json_contract.loads(podman.run(ref, "list", "--json", options=deployment["options"]).stdout, "list")
    assert sorted(b["half"] for b in listing["backups"]) == ["db", "docs"], listing["backups"]
    # The service's command: loop mode announces the next run and stops at once on SIGTERM.
    name = "dolibak-test-schedule-" + secrets.token_hex(4)
    podman("run", "-d", "--name", name, *podman.limits, *options,
           "-e", "DOLIBAK_BACKUP_AT=%s" % time.strftime("%H:%M", time.gmtime(time.time() - 3600)), ref)
    try:
        deadline = time.monotonic() + 60
        logs = ""
        while time.monotonic() < deadline and "next backup at" not in logs:
            time.sleep(0.5)
            logs = podman("logs", name).stdout
        assert re.search(r"dolibak-schedule: next backup at \d\d:\d\d UTC, in \d+s", logs), logs
        wait_s = int(re.search(r"in (\d+)s", logs).group(1))
        assert 22 * 3600 < wait_s <= 23 * 3600 + 60, logs
        (env,) = json.loads(podman("container", "inspect", name).stdout)
        assert not any(deployment["password"] in e for e in env["Config"]["Env"])
        t = time.monotonic()
        podman("stop", "-t", "20", name)
        stopped_in = time.monotonic() - t
        state = json.loads(podman("container", "inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 143 and stopped_in < 10, (state, stopped_in)
    finally:
        podman("rm", "--force", name, check=False)
