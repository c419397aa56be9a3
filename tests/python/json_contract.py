"""The JSON contract of docs/json.md, checked: every JSON document the CLI prints (and every
JSON log line) names its shape in "schema" ("dolibak.<kind>/<major>"), and is validated here
against docs/schemas/<kind>.schema.json before a test reads it.

    import json_contract
    report = json_contract.loads(p.stdout, "backup")      # one document
    lines = json_contract.log_lines(p.stderr)              # --log-format json
    entries = json_contract.lines(p.stdout)                # tar-list --json

Needs Debian's python3-jsonschema (tools/setup-debian installs it).
"""
import functools
import json
import os
import re

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(ROOT, "docs", "schemas")
SCHEMA_ID = re.compile(r"^dolibak\.([a-z][a-z-]*)/([1-9][0-9]*)$")

# Kinds validated in this run, for the coverage test (test_json_contract.py).
seen = set()


@functools.lru_cache(maxsize=None)
def _schemas():
    """Every schema file by its $id (the references between them resolve from this store)."""
    store = {}
    for name in sorted(os.listdir(SCHEMAS)):
        if name.endswith(".schema.json"):
            with open(os.path.join(SCHEMAS, name)) as f:
                s = json.load(f)
            jsonschema.Draft202012Validator.check_schema(s)
            store[s["$id"]] = s
    return store


def kinds():
    """The document kinds that have a schema (common.schema.json holds only definitions)."""
    return sorted(name[:-len(".schema.json")] for name in os.listdir(SCHEMAS)
                  if name.endswith(".schema.json") and name != "common.schema.json")


@functools.lru_cache(maxsize=None)
def _validator(kind):
    store = _schemas()
    schema = next((s for i, s in store.items() if i.endswith("/" + kind + ".schema.json")), None)
    assert schema is not None, f"no docs/schemas/{kind}.schema.json"
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def validate(doc, kind=None):
    """Checks `doc` against the schema its "schema" field names (and that this is `kind`,
    when given); returns it. A failure names the first violation and where it is."""
    assert isinstance(doc, dict), f"a JSON document must be an object, not {type(doc).__name__}"
    name = doc.get("schema")
    m = SCHEMA_ID.match(name) if isinstance(name, str) else None
    assert m, f'missing or malformed "schema": {name!r}'
    if kind is not None:
        assert m.group(1) == kind, f"expected a dolibak.{kind} document, got {name}"
    errors = sorted(_validator(m.group(1)).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        raise AssertionError(f"{name} at {where}: {e.message} ({len(errors)} violation(s))")
    seen.add(m.group(1))
    return doc


def loads(text, kind=None):
    """One JSON document (a command's --json output), validated."""
    return validate(json.loads(text), kind)


def lines(text, kind=None):
    """One JSON document per non-empty line (tar-list --json), each validated."""
    return [validate(json.loads(line), kind) for line in text.splitlines() if line.strip()]


def log_lines(text):
    """The --log-format json lines of stderr, each validated as dolibak.log."""
    return lines(text, "log")
