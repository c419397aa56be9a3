"""Prints where this interpreter looks for packages, relative to the install prefix given as
the argument: the nearest of its site directories under that prefix, else its platlib from
the "lib" component on (so that installing under another prefix keeps the interpreter's
layout). Run by bindings/python/CMakeLists.txt with the interpreter the module is built for."""
import os
import site
import sys
import sysconfig


def candidates():
    dirs = []
    try:
        dirs += site.getsitepackages()
    except AttributeError:  # an old virtualenv's site module
        pass
    dirs += [sysconfig.get_path("platlib"), sysconfig.get_path("purelib")]
    return [os.path.normpath(d) for d in dirs]


def main(prefix):
    prefix = os.path.normpath(os.path.abspath(prefix))
    under = [os.path.relpath(d, prefix) for d in candidates() if d.startswith(prefix + os.sep)]
    if under:  # the nearest: /usr gives lib/python3/dist-packages, not local/lib/...
        return min(under, key=lambda rel: len(rel.split(os.sep)))
    parts = os.path.normpath(sysconfig.get_path("platlib")).split(os.sep)
    if "lib" in parts:
        return os.path.join(*parts[parts.index("lib"):])
    return os.path.join("lib", "python%d.%d" % sys.version_info[:2], "site-packages")


if __name__ == "__main__":
    print(main(sys.argv[1]))
