"""The shape of the Python package: what `help(dolibak)` shows (__all__, the classes at the
top level), a docstring on every public class, function, method and property, and the type
stubs checked by tools/check-python-types (mypy --strict and stubtest), which also fails on a
stub that no longer matches the module."""
import os
import pydoc
import shutil
import subprocess
import types

import pytest

import dolibak

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUBMODULES = ["io", "s3", "store", "pgdump", "tarball", "fingerprint", "retention"]


def test_all_names_the_public_api_and_help_lists_the_classes():
    assert len(set(dolibak.__all__)) == len(dolibak.__all__)
    for name in dolibak.__all__:
        assert hasattr(dolibak, name), name
    # Every submodule of the extension is part of the package.
    core_modules = {n for n, v in vars(dolibak._core).items() if isinstance(v, types.ModuleType)}
    assert core_modules == set(SUBMODULES)
    assert core_modules <= set(dolibak.__all__)
    # Every public class of the top level, under its public name.
    classes = [n for n in dolibak.__all__ if isinstance(getattr(dolibak, n), type)]
    assert {"Job", "Event", "BackupReport", "Error", "Cancelled"} <= set(classes)
    text = pydoc.render_doc(dolibak, renderer=pydoc.plaintext)
    for name in classes:
        assert f"class {name}(" in text, name
        assert getattr(dolibak, name).__module__ == "dolibak", name
    assert dolibak.job.Job is dolibak.Job


def _text_of(fn):
    """A pybind11 docstring's text after its signature line."""
    return (fn.__doc__ or "").partition("\n")[2].strip()


def undocumented():
    missing = []
    for mod in [dolibak] + [getattr(dolibak, m) for m in SUBMODULES]:
        for name in sorted(dir(mod)):
            obj = getattr(mod, name)
            if name.startswith("_") or isinstance(obj, types.ModuleType):
                continue
            where = f"{mod.__name__}.{name}"
            if isinstance(obj, type):
                if not (obj.__doc__ or "").strip():
                    missing.append(where)
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(value, property):
                        if not (value.__doc__ or "").strip():
                            missing.append(f"{where}.{attr} (property)")
                    elif callable(value) and not _text_of(value):
                        missing.append(f"{where}.{attr}")
            elif callable(obj) and not _text_of(obj):
                missing.append(where)
    return missing


def test_every_public_class_function_method_and_property_has_a_docstring():
    assert undocumented() == []
    assert "KeyboardInterrupt" in dolibak.Job.__doc__


def _build_dir():
    path = os.environ.get("DOLIBAK_PYTHONPATH")
    if not path:
        pytest.skip("DOLIBAK_PYTHONPATH does not name a build tree's python/")
    return os.path.dirname(os.path.abspath(path))


def check_types(stubs=None):
    env = dict(os.environ)
    if stubs:
        env["DOLIBAK_STUBS_DIR"] = str(stubs)
    return subprocess.run([os.path.join(ROOT, "tools", "check-python-types"), _build_dir()],
                          env=env, capture_output=True, text=True, timeout=600)


def test_the_stubs_pass_mypy_strict_and_stubtest():
    p = check_types()
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Success: no issues found" in p.stdout


@pytest.mark.parametrize("change,expected", [
    # a name the module does not have
    (("io.pyi", "", "def sha512(data: bytes) -> str: ...\n"),
     "dolibak.io.sha512 is not present at runtime"),
    # a method of the module left out of its stub
    (("store.pyi", "    def reset(self) -> None: ...\n", ""),
     "dolibak.store.FaultStore.reset is not present in stub"),
    # a stub mypy --strict refuses (a bare generic)
    (("io.pyi", "Union[str, os.PathLike[str]]", "Union[str, os.PathLike]"),
     'Missing type parameters for generic type "PathLike"'),
])
def test_the_check_fails_on_a_wrong_stub(tmp_path, change, expected):
    name, old, new = change
    shutil.copytree(os.path.join(ROOT, "bindings", "python", "dolibak"), tmp_path / "dolibak")
    stub = tmp_path / "dolibak" / name
    text = stub.read_text()
    assert old in text
    stub.write_text(text.replace(old, new, 1) if old else text + new)
    p = check_types(tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert expected in p.stdout + p.stderr


# ---- parameters: stubtest cannot read a pybind11 function's signature (there is no
# __text_signature__), so the names, order, kind (keyword-only) and presence of defaults of
# every function and method of the stubs are compared with the signature line pybind11 puts
# first in each docstring.

def _split_top_level(text):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def runtime_params(fn):
    """[(name, keyword_only, has_default)] from pybind11's signature line, or None when the
    function is overloaded (several lines)."""
    doc = fn.__doc__ or ""
    if doc.startswith("Overloaded function"):
        return None
    line = doc.split("\n", 1)[0]
    inner = line[line.index("(") + 1:line.rindex(") ->")]
    out, kw_only = [], False
    for p in _split_top_level(inner):
        if p == "*":
            kw_only = True
            continue
        name = p.split(":", 1)[0].strip()
        out.append((name, kw_only, "=" in p.split(":", 1)[1] if ":" in p else "=" in p))
    return out


def stub_params(node):
    import ast
    a = node.args
    pos = a.posonlyargs + a.args
    defaults = [False] * (len(pos) - len(a.defaults)) + [True] * len(a.defaults)
    out = [(x.arg, False, d) for x, d in zip(pos, defaults)]
    out += [(x.arg, True, d is not None) for x, d in zip(a.kwonlyargs, a.kw_defaults)]
    return out


def stub_functions(module):
    """(qualified name, stub FunctionDef, runtime function) of every function and method a
    module's stub declares (properties left out)."""
    import ast
    mod = dolibak if module == "" else getattr(dolibak, module)
    path = os.path.join(ROOT, "bindings", "python", "dolibak", (module or "__init__") + ".pyi")
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield f"{module}.{node.name}", node, getattr(mod, node.name)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            cls = getattr(mod, node.name)
            if issubclass(cls, BaseException):
                continue
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                if any(getattr(d, "id", None) == "property" for d in item.decorator_list):
                    continue
                yield f"{module}.{node.name}.{item.name}", item, getattr(cls, item.name)


@pytest.mark.parametrize("module", ["io", "s3", "store", "pgdump", "tarball", "fingerprint",
                                    "retention", "job"])
def test_stub_parameters_match_the_module(module):
    checked = 0
    for where, node, fn in stub_functions(module):
        runtime = runtime_params(fn)
        if runtime is None or fn.__doc__ is None or "(" not in fn.__doc__.split("\n")[0]:
            continue  # overloaded, or not a pybind11 function
        stub = stub_params(node)
        if node.name.startswith("__") and node.name != "__init__":
            # pybind11 names the operand of an operator arg0: compare the count only
            assert len(stub) == len(runtime), where
        else:
            assert stub == runtime, where
        checked += 1
    assert checked > 0
