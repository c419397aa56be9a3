"""The docs say what the program does: every relative link of docs/ and README.md leads to a
file that exists, docs/cli.md describes every command `dolibak --help` lists and no other, and
the reasons the runbook quotes for a backup half are the ones the library writes."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None


def read(path):
    with open(path) as f:
        return f.read()


def markdown_files():
    yield os.path.join(ROOT, "README.md")
    for name in sorted(os.listdir(DOCS)):
        if name.endswith(".md"):
            yield os.path.join(DOCS, name)


def test_every_relative_link_leads_to_a_file():
    missing = []
    for path in markdown_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", read(path)):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            file = os.path.normpath(os.path.join(os.path.dirname(path), target.split("#")[0]))
            if not os.path.exists(file):
                missing.append(f"{os.path.relpath(path, ROOT)}: {target}")
    assert not missing, missing


@pytest.mark.skipif(not CLI or not os.path.exists(CLI), reason="no built bin/dolibak")
def test_cli_md_describes_every_command_and_no_other():
    out = subprocess.run([CLI, "--help"], capture_output=True, text=True).stdout
    listed = out.split("Subcommands:", 1)[1]
    commands = set(re.findall(r"^[ \t]+([a-z][a-z0-9-]*)[ \t]", listed, re.M))
    assert {"backup", "restore", "tar-list", "docs-fingerprint"} <= commands, commands
    cli_md = read(os.path.join(DOCS, "cli.md"))
    # A command is described by a heading "### `name ...`" or a row "| `name ...` |".
    described = set(re.findall(r"^### `([a-z][a-z0-9-]*)", cli_md, re.M))
    described |= set(re.findall(r"^\| `([a-z][a-z0-9-]*)[ `]", cli_md, re.M))
    described -= {"--config", "--json", "--log-format", "--cancel-grace", "--now"}
    assert commands - described == set(), "commands missing from cli.md"
    assert described - commands == set(), "cli.md describes commands that do not exist"


def test_the_runbook_quotes_the_reasons_the_library_writes():
    runbook = read(os.path.join(DOCS, "runbook.md"))
    sentence = runbook.split("A run says for each half `uploaded`", 1)[1].split("error.", 1)[0]
    reasons = re.findall(r"`([^`]+)`", sentence)
    assert len(reasons) >= 8, reasons
    code = read(os.path.join(ROOT, "libdolibak", "job", "backup.cpp"))
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', code)
    for reason in reasons:
        if reason in ("unchanged", "failed"):
            continue  # outcomes, not reasons
        # The text before the first placeholder (<key>, <ts>...) is a literal of the code.
        fixed = reason.split("<", 1)[0]
        assert fixed and any(lit.startswith(fixed) for lit in literals), reason
