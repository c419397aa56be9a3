"""The dolibak CLI's surface: did-you-mean for commands, flags and setting keys; the settings
flags listed once (`dolibak help settings`) instead of in every command's --help; the bash
and zsh completion and the man page generated from the same definitions."""
import json
import os
import re
import shutil
import subprocess

import pytest

import json_contract
import pg_tools_dir
from test_cli import CLI, base_env, run, store_url

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")

COMMANDS = ["backup", "check", "completion", "help", "inspect", "list", "man", "plan", "prune",
            "refresh", "restore", "sha256", "status", "verify", "version"]
JOB_COMMANDS = [["backup"], ["check"], ["list"], ["prune"], ["refresh"], ["restore", "db"],
                ["restore", "docs"], ["status"], ["verify"]]


# ---- did you mean ---------------------------------------------------------------------------

def test_a_mistyped_command_is_named_with_the_nearest_one():
    p = run(["backpu"], check_rc=2)
    assert "unknown command 'backpu'; did you mean 'backup'?" in p.stderr
    p = run(["--version", "lsit"], check_rc=2)
    assert "did you mean 'list'?" in p.stderr
    # Nothing near: no suggestion, but the command is still named.
    p = run(["frobnicate"], check_rc=2)
    assert "unknown command 'frobnicate'" in p.stderr and "did you mean" not in p.stderr
    # A subcommand of a command.
    p = run(["restore", "dbb", "--to", "x"], check_rc=2)
    assert "unknown command 'dbb'; did you mean 'db'? (dolibak restore --help" in p.stderr
    # No command at all.
    p = run([], check_rc=2)
    assert "a command is required" in p.stderr
    # A positional argument is not taken for a command.
    assert "unknown command" not in run(["verify", "latest", "--help"], check_rc=0).stderr


def test_a_mistyped_flag_suggests_the_nearest_flag_of_that_command(tmp_path):
    p = run(["list", "--sotre", store_url(tmp_path)], check_rc=2)
    assert "unknown option '--sotre'; did you mean '--store'?" in p.stderr
    assert "dolibak list:" in p.stderr
    p = run(["restore", "docs", "--to", str(tmp_path), "--in-plcae"], check_rc=2)
    assert "did you mean '--in-place'?" in p.stderr
    p = run(["backup", "--keep-daly-days=3"], check_rc=2)
    assert "unknown option '--keep-daly-days'; did you mean '--keep-daily-days'?" in p.stderr
    # A flag of another command is not offered.
    p = run(["list", "--db-onyl"], check_rc=2)
    assert "--db-only" not in p.stderr


def test_a_mistyped_key_of_the_config_file_suggests_the_key(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"store": store_url(tmp_path), "keep_daly_days": 3}))
    p = run(["list", "--config", str(cfg)], check_rc=2)
    assert "unknown setting 'keep_daly_days'" in p.stderr
    assert "did you mean 'keep_daily_days'?" in p.stderr
    assert " ERROR " in p.stderr
    # A mistyped DOLIBAK_* variable is a warning with its suggestion.
    p = run(["list", "--store", store_url(tmp_path)], env={"DOLIBAK_SOTRE": "x"}, check_rc=0)
    assert "DOLIBAK_SOTRE" in p.stderr and "did you mean DOLIBAK_STORE?" in p.stderr


# ---- help -----------------------------------------------------------------------------------

def test_a_command_help_lists_its_own_options_and_points_to_the_settings():
    for cmd in JOB_COMMANDS:
        p = run(cmd + ["--help"], check_rc=0)
        assert "dolibak help settings" in p.stdout, cmd
        assert "--config" in p.stdout and "--json" in p.stdout
        # No setting flag is listed among the options (the footer names a few as examples).
        options = p.stdout.split("Settings: ")[0]
        for flag in ("--s3-part-size", "--keep-daily-days", "--docs-compression", "--lock-ttl",
                     "--store", "--no-globals"):
            assert flag not in options, (cmd, flag)
        assert len(p.stdout.splitlines()) < 40, cmd
    p = run(["backup", "--help"], check_rc=0)
    assert "--db-only" in p.stdout and "--dry-run" in p.stdout
    # `help <command>` is the same text.
    assert run(["help", "backup"], check_rc=0).stdout == p.stdout
    assert "--in-place" in run(["help", "restore", "docs"], check_rc=0).stdout


def test_help_settings_lists_every_setting_flag_by_topic(tmp_path):
    p = run(["help", "settings"], check_rc=0)
    out = p.stdout
    for topic in ("store:", "S3:", "database:", "documents:", "retention:", "notifications:",
                  "encryption:", "run:"):
        assert re.search(r"^" + re.escape(topic) + r"$", out, re.M), topic
    for flag in ("--store", "--s3-part-size SIZE", "--dump-mode pg_dump|zstd", "--docs-dir PATH",
                 "--keep-daily-days N", "--globals, --no-globals", "--progress-interval DURATION",
                 "--age-identity-file"):
        assert flag in out, flag
    # Secrets appear by their variable, never as a flag.
    assert "DOLIBAK_DB_PASSWORD (no flag)" in out and "--db-password" not in out
    # Topics come in order: the store before the database before retention.
    assert out.index("\nstore:") < out.index("\ndatabase:") < out.index("\nretention:")
    # The flags still work on every job command though --help no longer lists them.
    run(["list", "--store", store_url(tmp_path), "--lock-ttl", "2h", "--no-globals"], check_rc=0)


# ---- completion -----------------------------------------------------------------------------

def complete_bash(script, words, cword):
    """Runs the generated function as bash's completion would, returns COMPREPLY."""
    prog = (script + "\nCOMP_WORDS=(" + " ".join("'%s'" % w for w in words) + ")\n"
            "COMP_CWORD=%d\n_dolibak\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" % cword)
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l]


def test_bash_completes_commands_flags_and_values(tmp_path):
    script = run(["completion", "bash"], check_rc=0).stdout
    assert "complete -F _dolibak dolibak" in script
    assert complete_bash(script, ["dolibak", "back"], 1) == ["backup"]
    assert set(complete_bash(script, ["dolibak", ""], 1)) >= set(COMMANDS)
    assert complete_bash(script, ["dolibak", "backup", "--dry"], 2) == ["--dry-run"]
    # Settings flags complete on every job command.
    assert complete_bash(script, ["dolibak", "list", "--keep-daily-d"], 2) == ["--keep-daily-days"]
    # Nested commands, and the flags of the nested one only.
    assert complete_bash(script, ["dolibak", "restore", "d"], 2) == ["db", "docs"]
    assert complete_bash(script, ["dolibak", "restore", "docs", "--in"], 3) == ["--in-place"]
    assert complete_bash(script, ["dolibak", "restore", "db", "--in"], 3) == []
    # A value after an option: its choices, or files.
    assert complete_bash(script, ["dolibak", "backup", "--dump-mode", ""], 3) == ["pg_dump", "zstd"]
    (tmp_path / "conf.json").write_text("{}")
    got = complete_bash(script, ["dolibak", "backup", "--config", str(tmp_path / "co")], 3)
    assert got == [str(tmp_path / "conf.json")]
    # An option's value is not taken for a command.
    assert complete_bash(script, ["dolibak", "backup", "--store", "x", "--for"], 4) == ["--force"]


def test_zsh_completion_is_valid_zsh(tmp_path):
    f = tmp_path / "_dolibak"
    run(["completion", "zsh", "--output", str(f)], check_rc=0)
    # zsh parses it (tools/setup-debian installs zsh).
    p = subprocess.run(["zsh", "-n", str(f)], capture_output=True, text=True)
    assert "dolibak" in f.read_text()
    assert p.returncode == 0, p.stderr


def test_zsh_completion_names_every_command_and_flag():
    script = run(["completion", "zsh"], check_rc=0).stdout
    assert script.startswith("#compdef dolibak\n")
    for c in COMMANDS:
        assert "'%s:" % c in script, c
    assert "'*--dump-mode=[" in script and ":(pg_dump zstd)'" in script
    assert "'--dry-run[" in script
    # Every single-quoted word is closed on its line (a quote in a description is escaped).
    for line in script.splitlines():
        if line.strip().startswith("'"):
            assert line.replace("'\\''", "").count("'") == 2, line


# ---- man --------------------------------------------------------------------------------------

def test_the_man_page_documents_every_command_and_setting_and_is_valid_roff(tmp_path):
    page = run(["man"], check_rc=0).stdout
    assert page.startswith(".TH DOLIBAK 1 ")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "SETTINGS", "EXIT STATUS",
                    "ENVIRONMENT"):
        assert "\n.SH " + section + "\n" in page, section
    for c in COMMANDS + ["restore db", "restore docs"]:
        assert '\n.SS "%s"\n' % c in page, c
    assert "\\-\\-keep\\-daily\\-days" in page and "\\-\\-in\\-place" in page
    # No line starts with a stray control character, no unescaped dash in option names.
    for line in page.splitlines():
        assert not line.startswith("'"), line
        if line.startswith("."):
            assert re.match(r"^\.(TH|SH|SS|TP|PP|B|I|br)( |$)", line), line
    if shutil.which("groff"):
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stderr == "", p.stderr
        p = subprocess.run(["groff", "-man", "-Tutf8"], input=page, capture_output=True,
                           text=True, timeout=60)
        text = re.sub(r".\x08", "", p.stdout)
        assert "restore docs" in text and "--keep-daily-days" in text
    f = tmp_path / "dolibak.1"
    run(["man", "-o", str(f)], check_rc=0)
    assert f.read_text() == page


# ---- exit codes of configuration errors --------------------------------------------------------

def error_lines(stderr):
    return [l for l in stderr.splitlines() if " ERROR " in l]


def test_a_missing_config_file_exits_2_as_an_error(tmp_path):
    p = run(["list", "--config", str(tmp_path / "missing.json")], check_rc=2)
    assert any(str(tmp_path / "missing.json") in l for l in error_lines(p.stderr)), p.stderr
    p = run(["list"], env={"DOLIBAK_CONFIG": str(tmp_path / "missing.json")}, check_rc=2)
    assert error_lines(p.stderr)
    # The profile file is configuration too.
    p = run(["list", "--store", store_url(tmp_path), "--profile-file", str(tmp_path / "no.json")],
            check_rc=2)
    assert any("profile_file" in l for l in error_lines(p.stderr)), p.stderr


def test_a_documents_directory_that_does_not_exist_exits_2_and_records_no_run(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    for args in (["--docs-dir", str(tmp_path / "nonexistent")],
                 ["--docs-dir", str(tmp_path / "nonexistent"), "--dry-run"],
                 ["--db-name", "prod", "--pg-tools-dir", str(tmp_path / "no-tools")]):
        p = run(["backup", "--store", store_url(store)] + args, check_rc=2)
        errors = error_lines(p.stderr)
        assert errors and ("docs_dir" in errors[-1] or "pg_tools_dir" in errors[-1]), p.stderr
        assert " WARNING " not in p.stderr, p.stderr
        assert list(store.rglob("*")) == [], list(store.rglob("*"))
    p = run(["list", "--store", store_url(store), "--json"], check_rc=0)
    assert json_contract.loads(p.stdout, "list")["runs"] == []


def test_bad_values_exit_2_before_anything_runs(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    for args in (["--docs-level", "99", "--docs-dir", str(tmp_path)],
                 ["--progress-interval", "soon", "--docs-dir", str(tmp_path)],
                 ["--retention", "count", "--docs-dir", str(tmp_path)]):
        p = run(["backup", "--store", store_url(store)] + args, check_rc=2)
        assert error_lines(p.stderr), p.stderr
        assert list(store.rglob("*")) == []
    # A command's own flag too.
    p = run(["status", "--store", store_url(store), "--max-age", "soon"], check_rc=2)
    assert any("--max-age" in l for l in error_lines(p.stderr)), p.stderr


# ---- progress and the terminal --------------------------------------------------------------

from test_cli import dolibarr, store  # noqa: E402,F401  (fixtures)

import pty  # noqa: E402
import time  # noqa: E402


def run_on_pty(args, env=None, timeout=300):
    """Runs the CLI with stdin, stdout and stderr on one pseudo-terminal (as in a shell);
    returns its exit status and everything the terminal received."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([CLI] + list(args), stdin=slave, stdout=slave, stderr=slave,
                            env=base_env(env))
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not chunk:
                break
            out += chunk
        rc = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rc, out.decode("utf-8", "replace")


def test_check_prints_each_item_once_on_a_terminal(tmp_path):
    args = ["check", "--store", store_url(tmp_path)]
    names = [i["name"] for i in json_contract.loads(run(args + ["--json"]).stdout, "check")["items"]]
    assert names

    def count(text, name):
        table = len(re.findall(r"^\s+(ok|FAIL)\s+" + re.escape(name) + r"\s", text, re.M))
        logged = len(re.findall(r" (INFO|WARNING) " + re.escape(name) + r": ", text))
        return table, logged

    # Not on a terminal: the log (stderr) and the result (stdout) each have it, once.
    p = run(args)
    for name in names:
        assert count(p.stdout, name) == (1, 0), name
        assert count(p.stderr, name) == (0, 1), name
    # On a terminal both land on the same screen: the result only.
    rc, screen = run_on_pty(args)
    assert rc in (0, 1), screen
    for name in names:
        assert count(screen, name) == (1, 0), (name, screen)


FAST_SLOW_PG_DUMP = """#!/bin/sh
# The real pg_dump, its whole output then written in 20 pieces 0.15 s apart (about 3 s).
case "$1" in --version) exec %(bin)s/pg_dump --version;; esac
%(bin)s/pg_dump "$@" | %(python)s -c '
import sys, time
data = sys.stdin.buffer.read()
n = 20
for i in range(n):
    sys.stdout.buffer.write(data[i * len(data) // n:(i + 1) * len(data) // n])
    sys.stdout.buffer.flush()
    time.sleep(0.15)
'
"""


def slow_tools(tmp_path, pg_server):
    return pg_tools_dir.make(tmp_path / "slowbin", pg_server, FAST_SLOW_PG_DUMP)


def test_logs_get_a_periodic_progress_line(dolibarr, store, tmp_path, pg_server):
    env, _ = dolibarr
    tools = slow_tools(tmp_path, pg_server)
    common = ["backup", "--db-only", "--store", store_url(store), "--pg-tools-dir", str(tools)]
    p = run(common + ["--progress-interval", "1s"], env=env, check_rc=0)
    lines = [l for l in p.stderr.splitlines() if " INFO progress: " in l]
    assert lines, p.stderr
    assert all(re.search(r"progress: db \d+(\.\d)? (B|KiB|MiB)", l) for l in lines), lines
    # The default (30s) says nothing in a run of a few seconds; 0 never does.
    p = run(common + ["--force"], env=env, check_rc=0)
    assert " progress: " not in p.stderr
    p = run(common + ["--force", "--progress-interval", "0", "--log-format", "json"],
            env=dict(env, DOLIBAK_PROGRESS_INTERVAL="1s"), check_rc=0)
    assert "progress:" not in p.stderr
    # In JSON logs it is an info object.
    p = run(common + ["--force", "--log-format", "json"],
            env=dict(env, DOLIBAK_PROGRESS_INTERVAL="1s"), check_rc=0)
    objs = json_contract.log_lines(p.stderr)
    assert any(o["level"] == "info" and o["message"].startswith("progress: db ") for o in objs)


def test_a_finished_half_ends_its_progress_with_final_totals(dolibarr, store, tmp_path,
                                                            pg_server):
    env, docs = dolibarr
    tools = slow_tools(tmp_path, pg_server)
    rc, screen = run_on_pty(["backup", "--store", store_url(store), "--docs-dir", str(docs),
                             "--pg-tools-dir", str(tools)], env=env)
    assert rc == 0, screen
    # Each redraw starts with \r and clears the line; the last one with db in it says it is
    # done, with its final size, time and rate, and no percentage or ETA for it.
    draws = [d for d in re.split(r"\r\x1b\[2K", screen) if d.startswith("db ")
             or " db " in d.split("\n")[0]]
    assert draws, screen
    last = draws[-1].split("\n")[0]
    assert re.search(r"db done: \d+(\.\d)? (B|KiB|MiB) in \d+s", last), last
    db_part = last.split("|")[0] if last.startswith("db") else last.split("|")[1]
    assert "ETA" not in db_part and "%" not in db_part, last
