"""The build step of pyproject.toml: setuptools packages bindings/python/dolibak, and the
extension dolibak._core comes from CMake (target dolibak_python, install component
python_wheel: the module and libdolibak beside it).

    DOLIBAK_CMAKE_BUILD_DIR=build/release   reuse that build tree (relative to this file, or
                                            absolute): it is brought up to date (CMake
                                            configures again only when its inputs changed)
                                            and must be for this interpreter
    (unset)                                 configure and build from scratch in a temporary
                                            directory (Release, no tests, no benchmarks)
    DOLIBAK_CMAKE_ARGS="-DX=Y ..."          more arguments for that fresh configure
"""
import atexit
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
# setuptools' own files (build/, egg-info) go to a directory of this process, removed when it
# ends: nothing is left in the tree, and no file of an earlier build can slip into a wheel.
WORK = tempfile.mkdtemp(prefix="dolibak-setuptools-")
atexit.register(shutil.rmtree, WORK, ignore_errors=True)


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(dolibak\s+VERSION\s+([0-9.]+)", f.read())
    if not m:
        raise RuntimeError("no project(dolibak VERSION ...) in CMakeLists.txt")
    return m.group(1)


def cache_value(tree, name):
    with open(os.path.join(tree, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].rstrip("\n")
    return None


class CMakeExtension(Extension):
    """An extension whose binary CMake builds (no sources for setuptools to compile)."""

    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if not isinstance(ext, CMakeExtension):
            return super().build_extension(ext)
        package_dir = os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))
        tree = os.environ.get("DOLIBAK_CMAKE_BUILD_DIR")
        if tree:
            self.take_from(os.path.join(ROOT, tree), package_dir)
            return None
        with tempfile.TemporaryDirectory(prefix="dolibak-wheel-") as fresh:
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            self.cmake(["-S", ROOT, "-B", fresh, *generator, "-DCMAKE_BUILD_TYPE=Release",
                        "-DDOLIBAK_BUILD_TESTS=OFF", "-DDOLIBAK_BUILD_BENCH=OFF",
                        "-DPython_EXECUTABLE=" + sys.executable,
                        *shlex.split(os.environ.get("DOLIBAK_CMAKE_ARGS", ""))])
            self.take_from(fresh, package_dir)
        return None

    def take_from(self, tree, package_dir):
        """Builds the module in the CMake build tree `tree` and copies it, with the library,
        into `package_dir`."""
        if not os.path.isfile(os.path.join(tree, "CMakeCache.txt")):
            raise RuntimeError(f"DOLIBAK_CMAKE_BUILD_DIR={tree}: not a CMake build tree")
        built_for = cache_value(tree, "DOLIBAK_PYTHON_EXECUTABLE")
        if built_for is None:
            raise RuntimeError(f"{tree}: configured without the Python module "
                               "(DOLIBAK_BUILD_PYTHON=OFF)")
        self.cmake(["--build", tree, "--target", "dolibak_python"])
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        with tempfile.TemporaryDirectory(prefix="dolibak-stage-") as stage:
            self.cmake(["--install", tree, "--component", "python_wheel", "--prefix", stage])
            staged = os.path.join(stage, "dolibak")
            names = sorted(os.listdir(staged))
            if "_core" + suffix not in names:
                raise RuntimeError(
                    f"{tree} builds the module for {built_for} ({names}), not for "
                    f"{sys.executable} (_core{suffix}): configure it with "
                    f"-DPython_EXECUTABLE={sys.executable}, or unset DOLIBAK_CMAKE_BUILD_DIR")
            # The library is staged as its real file and the soname link to it; the wheel
            # (a zip: no links) carries the real file under the soname the module asks for.
            link_targets = {os.readlink(os.path.join(staged, n)) for n in names
                            if os.path.islink(os.path.join(staged, n))}
            os.makedirs(package_dir, exist_ok=True)
            for name in names:
                if name in link_targets:
                    continue
                shutil.copyfile(os.path.join(staged, name), os.path.join(package_dir, name))
                shutil.copymode(os.path.join(staged, name), os.path.join(package_dir, name))

    @staticmethod
    def cmake(args):
        print("cmake " + " ".join(shlex.quote(a) for a in args), flush=True)
        subprocess.run(["cmake", *args], check=True)


setup(
    version=project_version(),
    ext_modules=[CMakeExtension("dolibak._core")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": WORK}, "egg_info": {"egg_base": WORK}},
    zip_safe=False,
)
