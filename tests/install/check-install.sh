#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds examples/ against the installed
# package with find_package(dolibak) and with pkg-config, and runs both programs.
set -euo pipefail
build_dir=$1
examples_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log"

# find_package(dolibak)
cmake -S "$examples_dir" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log"
cmake --build "$work/build" >"$work/build.log"
out=$("$work/build/hello_dolibak" "$examples_dir/CMakeLists.txt")
echo "find_package example: $out"
expected=$(sha256sum "$examples_dir/CMakeLists.txt" | cut -d' ' -f1)
grep -q "$expected" <<<"$out" || { echo "example printed a wrong digest"; exit 1; }

# The job example links (it needs a database to do real work): usage, then a clear error for
# a store directory that does not exist.
set +e
"$work/build/backup_job" >/dev/null 2>"$work/usage.txt"; rc=$?
env -u PGDATABASE "$work/build/backup_job" "$work/no-such-store" "$work" >/dev/null 2>"$work/nostore.txt"; rc2=$?
set -e
if [ "$rc" -ne 2 ] || ! grep -q "usage: backup_job" "$work/usage.txt"; then
  echo "backup_job: no usage (exit $rc)"; exit 1
fi
if [ "$rc2" -ne 1 ] || ! grep -q "no-such-store" "$work/nostore.txt"; then
  echo "backup_job: missing store not reported (exit $rc2): $(cat "$work/nostore.txt")"; exit 1
fi
echo "find_package job example: $(cat "$work/nostore.txt")"
# Without PGDATABASE it backs up the documents only: a real run, then an unchanged one.
mkdir -p "$work/store" "$work/documents/facture/FA2401-0001"
printf '%%PDF-1.4 example\n' >"$work/documents/facture/FA2401-0001/FA2401-0001.pdf"
: >"$work/documents/install.lock"  # a Dolibarr documents directory has it (the profile requires it)
env -u PGDATABASE "$work/build/backup_job" "$work/store" "$work/documents" >"$work/run1.txt" 2>"$work/run1.err"
sleep 1  # a run is named by its second: two in the same second are refused
env -u PGDATABASE "$work/build/backup_job" "$work/store" "$work/documents" >"$work/run2.txt" 2>"$work/run2.err"
grep -q "docs: uploaded docs/" "$work/run1.txt" || { echo "backup_job: first run:"; cat "$work/run1.txt"; exit 1; }
grep -q "docs: unchanged docs/" "$work/run2.txt" || { echo "backup_job: second run:"; cat "$work/run2.txt"; exit 1; }
grep -q "docs: 1 backup(s)" "$work/run2.txt" || { echo "backup_job: listing:"; cat "$work/run2.txt"; exit 1; }
echo "job example, second run:"; sed 's/^/  /' "$work/run2.txt"

# pkg-config
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046
c++ -std=c++20 -o "$work/hello_pc" "$examples_dir/hello_dolibak.cpp" $(pkg-config --cflags --libs dolibak) -Wl,-rpath,"$(pkg-config --variable=libdir dolibak)"
out2=$("$work/hello_pc" "$examples_dir/CMakeLists.txt")
grep -q "$expected" <<<"$out2" || { echo "pkg-config example printed a wrong digest"; exit 1; }
echo "pkg-config example: $out2"

# The installed CLI runs.
"$prefix/bin/dolibak" --version

# Its completion scripts and man page are installed where bash-completion, zsh and man look,
# and are the installed program's own.
for f in share/bash-completion/completions/dolibak share/zsh/vendor-completions/_dolibak \
         share/man/man1/dolibak.1; do
  [ -s "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
cmp -s "$prefix/share/man/man1/dolibak.1" <("$prefix/bin/dolibak" man) \
  || { echo "the installed man page is not the program's"; exit 1; }
echo "completion and man page: installed"

# The umbrella header compiles against the installed tree alone (generated headers included).
printf '#include <dolibak/dolibak.hpp>\nint main() { return dolibak::version().empty() ? 1 : 0; }\n' >"$work/umbrella.cpp"
# shellcheck disable=SC2046
c++ -std=c++20 -Wall -Wextra -Werror -o "$work/umbrella" "$work/umbrella.cpp" $(pkg-config --cflags --libs dolibak) -Wl,-rpath,"$(pkg-config --variable=libdir dolibak)"
"$work/umbrella"
echo "umbrella header: ok"

# Symbols are hidden unless marked DOLIBAK_API: no layer-private function is exported.
lib=$(pkg-config --variable=libdir dolibak)/libdolibak.so
private=$(nm -D --defined-only "$lib" | c++filt | grep -cE " [TW] dolibak::[a-z]+::detail::" || true)
[ "$private" -eq 0 ] || { echo "libdolibak.so exports $private layer-private function(s)"; exit 1; }
echo "exported symbols: $(nm -D --defined-only "$lib" | grep -c ' [TWVD] '), none layer-private"

# The installed Python package lands in a directory the interpreter it was built for searches
# when installed under the configured prefix, imports from there, and loads the installed
# library (not the build tree's).
if [ -d "$build_dir/python/dolibak" ]; then  # the build has the Python module: it must install
  core=$(find "$prefix" -path '*/dolibak/_core*.so')
  [ "$(wc -l <<<"$core")" -eq 1 ] || { echo "python: expected one installed _core, found: $core"; exit 1; }
  site_rel=${core#"$prefix"/}
  site_rel=${site_rel%/dolibak/*}
  py=$(sed -n 's/^DOLIBAK_PYTHON_EXECUTABLE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
  configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
  "$py" -c 'import os, site, sys, sysconfig
d = os.path.join(sys.argv[1], sys.argv[2])
searched = site.getsitepackages() + [sysconfig.get_path("platlib")]
sys.exit(0 if d in searched else "%s is not searched by %s: %s" % (d, sys.executable, searched))' \
    "$configured" "$site_rel"
  PYTHONPATH="$prefix/$site_rel" "$py" -c 'import sys, dolibak
prefix = sys.argv[1]
assert dolibak.__file__.startswith(prefix + "/"), dolibak.__file__
libs = {l.split()[-1] for l in open("/proc/self/maps") if "libdolibak.so" in l}
assert libs and all(l.startswith(prefix + "/") for l in libs), libs
assert dolibak.io.sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
print("python package", dolibak.__version__, "in", sys.argv[2], "library", *libs)' "$prefix" "$site_rel"
fi
