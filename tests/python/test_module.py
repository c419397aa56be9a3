"""The Python module is built and importable; its io layer agrees with hashlib."""
import hashlib
import os
import re

import pytest

import dolibak  # noqa: E402


def test_version_is_the_librarys():
    assert re.fullmatch(r"\d+\.\d+\.\d+", dolibak.__version__)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8") as f:
        declared = re.search(r"project\(dolibak VERSION (\S+)", f.read()).group(1)
    assert dolibak.__version__ == declared


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert dolibak.io.sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert dolibak.io.sha256_file(str(path)) == hashlib.sha256(data).hexdigest()
    assert dolibak.io.sha256(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_submodules_import_like_packages():
    import dolibak.io as io_module

    assert io_module is dolibak.io


def test_errors_are_python_exceptions_naming_the_path(tmp_path):
    missing = tmp_path / "nope" / "file"
    with pytest.raises(dolibak.IoError) as excinfo:
        dolibak.io.sha256_file(missing)
    assert str(missing) in str(excinfo.value)
    assert isinstance(excinfo.value, dolibak.Error)
