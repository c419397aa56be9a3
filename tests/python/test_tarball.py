"""dolibak.tarball and dolibak.fingerprint from Python."""
import os
import subprocess

import pytest

import dolibak
from dolibak import fingerprint, tarball


def make_tree(root):
    os.makedirs(os.path.join(root, "facture/FA1/temp"))
    with open(os.path.join(root, "facture/FA1/FA1.pdf"), "wb") as f:
        f.write(b"%PDF-1.4\n" + os.urandom(20000) + b"%%EOF\n")
    with open(os.path.join(root, "facture/FA1/FA1.pdf_preview.png"), "wb") as f:
        f.write(b"png")
    with open(os.path.join(root, "facture/FA1/temp/cache"), "wb") as f:
        f.write(b"cache")
    with open(os.path.join(root, "soci\u00e9t\u00e9 (x).txt"), "w") as f:
        f.write("utf-8 name")


def test_write_list_extract_fingerprint(tmp_path):
    src = tmp_path / "documents"
    make_tree(str(src))
    out = tmp_path / "docs.tar.zst"
    summary = tarball.write(src, out, compression="zstd", reproducible=True)
    assert summary["files"] == 2
    assert summary["warnings"] == []
    assert summary["exclusions"] == [("*/temp/*", 1, 5), ("*.pdf_preview*.png", 1, 3),
                                     ("/dolibarr.log", 0, 0), ("/dolibarr_*.log", 0, 0)]
    names = [e["path"] for e in tarball.list(out)]
    assert "soci\u00e9t\u00e9 (x).txt" in names
    assert not any("temp" in n or "preview" in n for n in names)
    assert tarball.verify(out)["compression"] == "zstd"
    tarball.extract(out, tmp_path / "restored")
    assert fingerprint.docs(src)["sha256"] == fingerprint.docs(tmp_path / "restored")["sha256"]
    # GNU tar agrees on the names.
    listed = subprocess.run(["tar", "-tf", str(out)], capture_output=True, check=True).stdout.decode()
    assert "soci\u00e9t\u00e9 (x).txt" in listed


def test_errors_are_typed(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\x00" * 50)
    with pytest.raises(dolibak.FormatError):
        tarball.verify(bad)
    with pytest.raises(dolibak.ConfigError):
        tarball.write(tmp_path, tmp_path / "x.tar", compression="rar")
