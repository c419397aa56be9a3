"""tools/check-layers on small synthetic source trees: a clean one passes, an upward include
and a private header included from another layer fail with a message naming file, line,
include and reason; the allowlist needs a comment per entry and no stale entries."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "check-layers")


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_tree(root):
    """A clean tree: core, io, s3 and job with public and private headers."""
    write(root, "include/dolibak/core/error.hpp", "#pragma once\n#include <string>\n")
    write(root, "include/dolibak/io/io.hpp", "#pragma once\n#include <dolibak/core/error.hpp>\n")
    write(root, "include/dolibak/s3/client.hpp",
          "#pragma once\n#include <dolibak/io/io.hpp>\n#include <vector>\n")
    write(root, "include/dolibak/job/job.hpp",
          "#pragma once\n#include <dolibak/s3/client.hpp>\n")
    write(root, "libdolibak/core/error.cpp", "#include <dolibak/core/error.hpp>\n")
    write(root, "libdolibak/s3/transport.hpp",
          "#pragma once\n#include <dolibak/s3/client.hpp>\n")
    write(root, "libdolibak/s3/client.cpp",
          '#include "s3/transport.hpp"\n#include "transport.hpp"\n'
          "#include <curl/curl.h>\n")
    write(root, "libdolibak/job/job_impl.hpp", "#pragma once\n#include <dolibak/job/job.hpp>\n")
    write(root, "libdolibak/job/job.cpp",
          '#include "job/job_impl.hpp"\n#include <dolibak/io/io.hpp>\n'
          '// #include "s3/transport.hpp" (a comment, not an include)\n'
          '/* #include <dolibak/job/job.hpp>\n   #include "s3/transport.hpp" */\n')
    write(root, "libdolibak/core/version_config.hpp.in", "#pragma once\n")


def run(root, *args):
    p = subprocess.run([sys.executable, SCRIPT, "--root", str(root), *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_clean_tree_passes(tmp_path):
    make_tree(tmp_path)
    code, out = run(tmp_path)
    assert code == 0, out
    assert "check-layers: ok" in out
    assert "violation:" not in out


def test_upward_include_fails(tmp_path):
    make_tree(tmp_path)
    write(tmp_path, "include/dolibak/io/io.hpp",
          "#pragma once\n#include <dolibak/core/error.hpp>\n#include <dolibak/s3/client.hpp>\n")
    code, out = run(tmp_path)
    assert code == 1, out
    assert ("layer violation: include/dolibak/io/io.hpp:3: includes <dolibak/s3/client.hpp>: "
            "upward include: public header of layer s3, above this file's layer io") in out
    assert out.count("layer violation:") == 1, out


def test_upward_include_from_a_source_file_fails(tmp_path):
    make_tree(tmp_path)
    write(tmp_path, "libdolibak/core/error.cpp",
          "#include <dolibak/core/error.hpp>\n#include <dolibak/job/job.hpp>\n")
    code, out = run(tmp_path)
    assert code == 1, out
    assert ("libdolibak/core/error.cpp:2: includes <dolibak/job/job.hpp>: upward include: "
            "public header of layer job, above this file's layer core") in out


def test_private_cross_layer_include_fails(tmp_path):
    make_tree(tmp_path)
    # job is above s3, but s3's private header is still s3's own.
    write(tmp_path, "libdolibak/job/job.cpp",
          '#include "job/job_impl.hpp"\n\n#include "s3/transport.hpp"\n')
    code, out = run(tmp_path)
    assert code == 1, out
    assert ('layer violation: libdolibak/job/job.cpp:3: includes "s3/transport.hpp": private '
            "header libdolibak/s3/transport.hpp (layer s3) included from layer job: private "
            "headers may be included only from their own layer's folder libdolibak/s3/") in out
    assert out.count("layer violation:") == 1, out


def test_public_header_including_a_private_one_fails(tmp_path):
    make_tree(tmp_path)
    write(tmp_path, "include/dolibak/job/job.hpp",
          '#pragma once\n#include "job/job_impl.hpp"\n')
    code, out = run(tmp_path)
    assert code == 1, out
    assert ('include/dolibak/job/job.hpp:2: includes "job/job_impl.hpp": public header includes '
            "the private header libdolibak/job/job_impl.hpp") in out


def test_unmapped_header_and_folder_fail(tmp_path):
    make_tree(tmp_path)
    write(tmp_path, "include/dolibak/newthing.hpp", "#pragma once\n")
    write(tmp_path, "libdolibak/misc/x.cpp", "#include <dolibak/core/error.hpp>\n")
    write(tmp_path, "libdolibak/job/job.cpp", "#include <dolibak/newthing.hpp>\n")
    code, out = run(tmp_path)
    assert code == 1, out
    assert ("layer violation: include/dolibak/newthing.hpp: this file belongs to no layer (a "
            "top-level header missing from TOP_LEVEL_HEADERS)") in out
    assert ("layer violation: libdolibak/misc/x.cpp: this file belongs to no layer (not in a "
            "layer folder libdolibak/<layer>/)") in out
    assert ("libdolibak/job/job.cpp:1: includes <dolibak/newthing.hpp>: "
            "include/dolibak/newthing.hpp belongs to no layer") in out
    assert out.count("layer violation:") == 3, out


def test_allowlist(tmp_path):
    make_tree(tmp_path)
    write(tmp_path, "libdolibak/job/job.cpp", '#include "s3/transport.hpp"\n')
    allow = tmp_path / "allow"
    # An entry with its reason silences the violation.
    allow.write_text('# header comment\n'
                     'libdolibak/job/job.cpp "s3/transport.hpp"  # job reuses the transport\n')
    code, out = run(tmp_path, "--allow", str(allow))
    assert code == 0, out
    assert "ok (1 allowlisted)" in out
    # Without a reason it is refused.
    allow.write_text('libdolibak/job/job.cpp "s3/transport.hpp"\n')
    code, out = run(tmp_path, "--allow", str(allow))
    assert code == 1, out
    assert "has no comment explaining why" in out
    # Once the include is gone, the entry is stale and must be removed.
    allow.write_text('libdolibak/job/job.cpp "s3/transport.hpp"  # job reuses the transport\n')
    write(tmp_path, "libdolibak/job/job.cpp", '#include "job/job_impl.hpp"\n')
    code, out = run(tmp_path, "--allow", str(allow))
    assert code == 1, out
    assert 'stale entry libdolibak/job/job.cpp "s3/transport.hpp"' in out


def test_default_allowlist_is_the_trees(tmp_path):
    make_tree(tmp_path)
    write(tmp_path, "libdolibak/job/job.cpp", '#include "s3/transport.hpp"\n')
    write(tmp_path, "tools/check-layers.allow",
          'libdolibak/job/job.cpp "s3/transport.hpp"  # reason\n')
    code, out = run(tmp_path)
    assert code == 0, out
