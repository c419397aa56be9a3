"""restore docs into a mount point (the Kubernetes examples mount the documents volume at
/documents): a real tmpfs mounted in a user and mount namespace (`unshare -rm`), the built
CLI restoring into it, a restore killed midway leaving the old content intact, and the next
restore cleaning up and succeeding."""
import json
import os
import shutil
import subprocess
import sys

import pytest

BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")

# Runs inside the namespace: mounts a tmpfs at the target, restores into it, kills a second
# restore while it extracts, restores again; prints what it saw as JSON.
INSIDE = r'''
import json, os, signal, subprocess, sys, time
cli, store, target = sys.argv[1:4]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "dolibak-test", target], check=True)
def visible():
    out = {}
    for d, dirs, files in os.walk(target):
        dirs[:] = [x for x in dirs if not x.startswith(".dolibak-")]
        for f in files:
            if f.startswith(".dolibak-"):
                continue
            p = os.path.join(d, f)
            out[os.path.relpath(p, target)] = os.path.getsize(p)
    return out
def hidden():
    return sorted(n for n in os.listdir(target) if n.startswith(".dolibak-"))
env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
cmd = [cli, "restore", "docs", "latest", "--store", "file://" + store, "--to", target, "--yes"]
res = {}
with open(os.path.join(target, "old.pdf"), "w") as f:
    f.write("old content")
first = subprocess.run(cmd, env=env, capture_output=True, text=True)
res["first_rc"], res["first_err"] = first.returncode, first.stderr[-2000:]
res["after_first"], res["hidden_after_first"] = visible(), hidden()
res["root_mode"] = oct(os.stat(target).st_mode & 0o7777)
# Killed while extracting: the staging directory exists, the journal does not yet.
before_kill = visible()
p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
killed = False
while p.poll() is None:
    names = hidden()
    staging = [n for n in names if n.startswith(".dolibak-staging-")]
    if staging and ".dolibak-restore-journal" not in names and \
            os.path.exists(os.path.join(target, staging[0], "ecm")):
        p.send_signal(signal.SIGKILL)
        killed = True
        break
    time.sleep(0.001)
p.wait()
res["killed"] = killed
res["intact_after_kill"] = visible() == before_kill
res["hidden_after_kill"] = hidden()
third = subprocess.run(cmd, env=env, capture_output=True, text=True)
res["third_rc"], res["third_err"] = third.returncode, third.stderr[-2000:]
res["after_third"], res["hidden_after_third"] = visible(), hidden()
print(json.dumps(res))
'''


def namespaces_work():
    if not shutil.which("unshare"):
        return False
    p = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs x /mnt"],
                       capture_output=True)
    return p.returncode == 0


def test_restore_docs_into_a_mount_point_is_all_or_nothing(tmp_path):
    if not namespaces_work():
        pytest.skip("this kernel does not let an unprivileged user namespace mount a tmpfs")
    docs = tmp_path / "documents"
    (docs / "facture" / "FA1").mkdir(parents=True)
    (docs / "facture" / "FA1" / "FA1.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(2048))
    (docs / "install.lock").write_text("")
    # Enough incompressible content that the extraction takes a while to be killed in.
    (docs / "ecm" / "bulk").mkdir(parents=True)
    for i in range(48):
        (docs / "ecm" / "bulk" / ("scan-%02d.pdf" % i)).write_bytes(os.urandom(1 << 20))
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    b = subprocess.run([CLI, "backup", "--docs-only", "--store", "file://" + str(store),
                        "--create-store-dir", "--docs-dir", str(docs), "--docs-level", "1"],
                       env=env, capture_output=True, text=True)
    assert b.returncode == 0, b.stderr
    target = tmp_path / "mnt"
    target.mkdir()
    p = subprocess.run(["unshare", "-rm", sys.executable, "-c", INSIDE, CLI, str(store),
                        str(target)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    expected = {"install.lock": 0, "facture/FA1/FA1.pdf": 2048 + 9}
    expected.update({"ecm/bulk/scan-%02d.pdf" % i: 1 << 20 for i in range(48)})
    # Restored into the mount point, whole, nothing left beside.
    assert res["first_rc"] == 0, res["first_err"]
    assert res["after_first"] == expected and res["hidden_after_first"] == []
    # Killed while extracting: the visible content is the old one; the staging remains...
    assert res["killed"]
    assert res["intact_after_kill"]
    assert any(n.startswith(".dolibak-staging-") for n in res["hidden_after_kill"])
    # ... until the next restore, which removes it and succeeds.
    assert res["third_rc"] == 0, res["third_err"]
    assert "interrupted restore" in res["third_err"]
    assert res["after_third"] == expected and res["hidden_after_third"] == []
