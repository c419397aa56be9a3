"""examples/: what can be checked on this machine without a cluster, a Docker engine or systemd
as PID 1.

* every YAML file parses; the Kubernetes objects have the expected kinds and settings, and
  no Secret holds anything but placeholders;
* the Helm chart's templates render (helm when installed, else the small renderer below that
  supports exactly the constructs the templates use, and refuses any other) for the default,
  prod and sandbox values, and the rendered objects pass the same checks;
* the config files use only known settings keys;
* the systemd units pass `systemd-analyze verify` (when available);
* the Dockerfile's runtime stage installs the Debian packages of every library the built
  libdolibak links;
* the flags the examples pass to the CLI exist (when the CLI has the subcommand);
* the Python example compiles, and runs end to end against the PostgreSQL fixture and a
  file:// store once dolibak.Job can back up.
"""
import copy
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys

import pytest

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (tools/setup-debian)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
K8S = os.path.join(EXAMPLES, "kubernetes")
CHART = os.path.join(K8S, "chart")
SYSTEMD = os.path.join(EXAMPLES, "systemd")
DOCKERFILE = os.path.join(EXAMPLES, "docker", "Dockerfile")

# The settings vocabulary (docs/configuration.md): the keys a config file may hold.
SETTINGS = {
    "store", "s3_endpoint", "s3_region", "s3_addressing", "s3_ca_bundle", "s3_part_size",
    "s3_parallel_parts", "s3_retries", "s3_access_key_id", "s3_secret_access_key",
    "s3_session_token", "create_store_dir", "profile", "profile_file", "db", "db_host",
    "db_port", "db_user", "db_name", "db_password", "db_sslmode", "pg_tools_dir", "dump_mode",
    "dump_level", "zstd_level", "zstd_threads", "db_fingerprint", "volatile_tables", "globals",
    "globals_passwords", "docs_dir", "docs_compression", "docs_level", "docs_threads",
    "docs_exclude", "docs_fingerprint", "skip_unreadable", "docs_allow_missing_required",
    "retention", "keep_daily_days",
    "keep_monthly_months", "keep_yearly_years", "keep_last", "keep_hourly", "keep_daily",
    "keep_weekly", "keep_monthly", "keep_yearly", "time_zone", "lock_ttl", "temp_dir",
    "log_format", "cancel_grace",
}
SECRET_SETTINGS = {"db_password", "s3_access_key_id", "s3_secret_access_key", "s3_session_token"}
# Environment variables that hold secrets; in the examples only as placeholders.
SECRET_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "DOLIBAK_DB_PASSWORD", "DOLIBAK_TARGET_PASSWORD", "PGPASSWORD", "DOLIBAK_S3_ACCESS_KEY_ID",
              "DOLIBAK_S3_SECRET_ACCESS_KEY", "DOLIBAK_S3_SESSION_TOKEN"}
PLACEHOLDER = re.compile(r"^REPLACE_WITH_[A-Z0-9_]+$")


def example_files(*suffixes):
    out = []
    for dirpath, _dirs, files in os.walk(EXAMPLES):
        for f in files:
            if f.endswith(suffixes):
                out.append(os.path.join(dirpath, f))
    return sorted(out)


def is_template(path):
    return os.sep + "templates" + os.sep in path


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ---- a Go-template subset, enough for the chart (helm is not installed here) ---------------

class TemplateError(Exception):
    pass


_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


def _lookup(path, ctx, missing_ok):
    if not path.startswith("."):
        raise TemplateError(f"unsupported value {path!r}")
    node = ctx
    for part in path[1:].split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif missing_ok:
            return None
        else:
            raise TemplateError(f"{path}: no such value")
    return node


def _to_yaml(v):
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        raise TemplateError("a value is missing (would render <no value>)")
    if isinstance(v, (dict, list)):
        raise TemplateError("a map or list printed without toYaml/toJson")
    return str(v)


def _pipeline(expr, ctx):
    stages = [s.strip() for s in expr.split("|")]
    first = stages[0].split()
    if len(first) == 1:
        value = _lookup(first[0], ctx, missing_ok=False)
    elif len(first) == 2 and first[0] in ("toYaml", "toJson", "toPrettyJson", "quote"):
        value = _apply(first[0], [], _lookup(first[1], ctx, missing_ok=False))
    else:
        raise TemplateError(f"unsupported expression {stages[0]!r}")
    for stage in stages[1:]:
        words = stage.split()
        value = _apply(words[0], words[1:], value)
    return value if isinstance(value, str) else _scalar(value)


def _apply(fn, args, value):
    if fn == "quote" and not args:
        return json.dumps(_scalar(value))
    if fn == "toYaml" and not args:
        return _to_yaml(value)
    if fn == "toJson" and not args:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if fn == "toPrettyJson" and not args:
        return json.dumps(value, sort_keys=True, indent=2)
    if fn in ("nindent", "indent") and len(args) == 1 and args[0].isdigit():
        pad = " " * int(args[0])
        text = "\n".join(pad + line if line else line for line in _scalar(value).split("\n"))
        return "\n" + text if fn == "nindent" else text
    raise TemplateError(f"unsupported function {fn} {' '.join(args)}".strip())


def render_template(text, ctx):
    """Renders `text` with Go template semantics for: {{ .a.b }}, pipelines of quote, toYaml,
    toJson, toPrettyJson, indent N, nindent N, {{ if .a.b }} / {{ else }} / {{ end }}, and
    {{- -}} whitespace trimming. Anything else raises TemplateError."""
    # Split into text and actions, applying the trim markers.
    pieces = []
    pos = 0
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if m.group(1):
            chunk = chunk.rstrip(" \t\r\n")
        if pieces and pieces[-1][0] == "trim-next":
            pieces.pop()
            chunk = chunk.lstrip(" \t\r\n")
        pieces.append(("text", chunk))
        pieces.append(("action", m.group(2)))
        if m.group(3):
            pieces.append(("trim-next", None))
        pos = m.end()
    tail = text[pos:]
    if pieces and pieces[-1][0] == "trim-next":
        pieces.pop()
        tail = tail.lstrip(" \t\r\n")
    pieces.append(("text", tail))
    if "{{" in "".join(p[1] for p in pieces if p[0] == "text"):
        raise TemplateError("an unterminated {{ action")

    out = []
    stack = []  # [emitting] per open if

    def emitting():
        return all(stack)

    for kind, value in pieces:
        if kind == "text":
            if emitting():
                out.append(value)
            continue
        if value.startswith("/*"):
            continue
        words = value.split()
        if words[0] == "if" and len(words) == 2:
            v = _lookup(words[1], ctx, missing_ok=True)
            stack.append(bool(v) and emitting())
        elif words == ["else"]:
            if not stack:
                raise TemplateError("else without if")
            outer = all(stack[:-1])
            stack[-1] = outer and not stack[-1]
        elif words == ["end"]:
            if not stack:
                raise TemplateError("end without if")
            stack.pop()
        elif emitting():
            out.append(_pipeline(value, ctx))
    if stack:
        raise TemplateError("an if without end")
    return "".join(out)


def test_renderer_matches_go_template_rules():
    ctx = {"Values": {"a": {"b": "x y", "n": 3, "on": True, "off": False, "l": [1, 2]}}}
    assert render_template("k: {{ .Values.a.b | quote }}", ctx) == 'k: "x y"'
    assert render_template("n: {{ .Values.a.n }}\n", ctx) == "n: 3\n"
    assert render_template("a:\n  {{- toYaml .Values.a.l | nindent 2 }}\n", ctx) == "a:\n  - 1\n  - 2\n"
    assert render_template("{{- if .Values.a.off }}\nx\n{{- end }}\ny", ctx) == "\ny"
    assert render_template("{{- if .Values.a.on }}\nx\n{{- else }}\nz\n{{- end }}", ctx) == "\nx"
    assert render_template("{{ if .Values.nope }}x{{ end }}y", ctx) == "y"
    for bad in ("{{ .Values.missing }}", "{{ include \"x\" . }}", "{{ range .Values.a.l }}{{ end }}",
                "{{ .Values.a.l }}", "{{ if .Values.a.on }}", "{{ .Values.a.b | upper }}"):
        with pytest.raises(TemplateError):
            render_template(bad, ctx)


def deep_merge(base, override):
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def render_chart(values_file, release):
    """The chart's objects for `values_file` (None: the defaults), as a list of dicts."""
    helm = shutil.which("helm")
    if helm:
        cmd = [helm, "template", release, CHART]
        if values_file:
            cmd += ["-f", os.path.join(CHART, values_file)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return [d for d in yaml.safe_load_all(out) if d is not None]
    with open(os.path.join(CHART, "values.yaml"), encoding="utf-8") as f:
        values = yaml.safe_load(f)
    if values_file:
        with open(os.path.join(CHART, values_file), encoding="utf-8") as f:
            values = deep_merge(values, yaml.safe_load(f) or {})
    with open(os.path.join(CHART, "Chart.yaml"), encoding="utf-8") as f:
        chart = yaml.safe_load(f)
    ctx = {"Values": values, "Release": {"Name": release, "Namespace": "default"},
           "Chart": {"Name": chart["name"], "Version": chart["version"]}}
    docs = []
    tdir = os.path.join(CHART, "templates")
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(tdir, name), encoding="utf-8") as f:
            try:
                text = render_template(f.read(), ctx)
            except TemplateError as e:
                raise AssertionError(f"{name} ({values_file or 'values.yaml'}): {e}") from e
        try:
            docs += [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            raise AssertionError(f"{name} renders to invalid YAML:\n{text}\n{e}") from e
    return docs


# ---- checks shared by the plain manifests and the rendered chart ---------------------------

def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def pod_spec(cronjob):
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def component(cronjob):
    return cronjob["metadata"]["labels"]["app.kubernetes.io/component"]


def check_config_map(cm):
    config = json.loads(cm["data"]["dolibak.json"])
    unknown = set(config) - SETTINGS
    assert not unknown, f"{cm['metadata']['name']}: unknown settings {sorted(unknown)}"
    assert not set(config) & SECRET_SETTINGS, "secrets belong in the Secret, not the ConfigMap"
    assert config["store"].startswith(("s3://", "file:///"))
    return config


def check_secret(secret):
    assert "data" not in secret, "a Secret example must use stringData placeholders only"
    for k, v in secret["stringData"].items():
        assert PLACEHOLDER.match(v), f"{secret['metadata']['name']}.{k} is not a placeholder"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(secret["stringData"])


def check_hardened_pod(cj):
    spec = pod_spec(cj)
    name = cj["metadata"]["name"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    assert spec["securityContext"]["runAsUser"] != 0, name
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True, name
    assert sc["allowPrivilegeEscalation"] is False, name
    assert sc["capabilities"]["drop"] == ["ALL"], name
    assert "limits" in container["resources"] and "requests" in container["resources"], name
    # Secrets only through a secretRef, never as literal env values.
    for e in container.get("env", []):
        assert e["name"] not in SECRET_ENV, f"{name}: {e['name']} given literally"
    assert any("secretRef" in s for s in container.get("envFrom", [])), name
    assert cj["spec"]["concurrencyPolicy"] == "Forbid", name
    return container


def check_backup_cronjob(cj):
    container = check_hardened_pod(cj)
    assert cj["spec"]["schedule"] == "0 2 * * *"
    assert cj["spec"]["timeZone"] == "Etc/UTC"
    job = cj["spec"]["jobTemplate"]["spec"]
    assert isinstance(job["backoffLimit"], int) and job["backoffLimit"] >= 0
    assert isinstance(job["activeDeadlineSeconds"], int)
    # A killed run's lease (lock_ttl, 12h) outlives the deadline: keep the deadline shorter.
    assert job["activeDeadlineSeconds"] < 12 * 3600
    assert container["args"][0] == "backup"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["documents"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod_spec(cj)["volumes"]}
    assert volumes["documents"]["persistentVolumeClaim"]["readOnly"] is True
    # The temp_dir of the config is a writable volume (the root file system is read-only).
    assert mounts["scratch"]["mountPath"] == "/scratch"


def check_status_cronjob(cj):
    container = check_hardened_pod(cj)
    args = container["args"]
    assert args[0] == "status" and "--max-age" in args


def test_every_yaml_file_parses():
    files = [f for f in example_files(".yaml", ".yml") if not is_template(f)]
    assert len(files) >= 8
    for f in files:
        assert load_yaml_docs(f), f"{f} is empty"


def plain_manifests():
    """instance label -> objects of examples/kubernetes/*.yaml."""
    out = {}
    for f in example_files(".yaml"):
        if os.path.dirname(f) == K8S:
            for d in load_yaml_docs(f):
                out.setdefault(d["metadata"]["labels"]["app.kubernetes.io/instance"], []).append(d)
    return out


def check_references(kinds):
    cm_name = kinds["ConfigMap"][0]["metadata"]["name"]
    secret_name = kinds["Secret"][0]["metadata"]["name"]
    for cj in kinds["CronJob"]:
        spec = pod_spec(cj)
        assert any(v.get("configMap", {}).get("name") == cm_name for v in spec["volumes"])
        assert spec["containers"][0]["envFrom"][0]["secretRef"]["name"] == secret_name


def check_refresh_cronjob(cj):
    container = check_hardened_pod(cj)
    args = container["args"]
    assert args[0] == "refresh" and "--to-db" in args and "--role" in args
    for arg in args:
        assert "password" not in arg.lower(), "no secret in argv: DOLIBAK_TARGET_PASSWORD"


def test_plain_manifests():
    envs = plain_manifests()
    assert sorted(envs) == ["prod", "sandbox"]
    kinds = by_kind(envs["prod"])
    assert sorted(kinds) == ["ConfigMap", "CronJob", "Secret"]
    config = check_config_map(kinds["ConfigMap"][0])
    assert config["docs_dir"] == "/documents" and config["temp_dir"] == "/scratch"
    check_secret(kinds["Secret"][0])
    jobs = {component(cj): cj for cj in kinds["CronJob"]}
    assert sorted(jobs) == ["backup", "status"]
    check_backup_cronjob(jobs["backup"])
    check_status_cronjob(jobs["status"])
    check_references(kinds)

    kinds = by_kind(envs["sandbox"])
    assert sorted((k, len(v)) for k, v in kinds.items()) == [("ConfigMap", 1), ("CronJob", 1), ("Secret", 1)]
    config = check_config_map(kinds["ConfigMap"][0])
    assert "docs_dir" not in config  # the refresh is database-only here
    check_secret(kinds["Secret"][0])
    assert "DOLIBAK_TARGET_PASSWORD" in kinds["Secret"][0]["stringData"]
    check_refresh_cronjob(kinds["CronJob"][0])
    check_references(kinds)


def test_chart_defaults_render():
    kinds = by_kind(render_chart(None, "dolibak"))
    assert "Secret" not in kinds  # secret.create is false by default
    check_config_map(kinds["ConfigMap"][0])
    assert sorted(component(cj) for cj in kinds["CronJob"]) == ["backup", "status"]


def test_chart_prod_values():
    kinds = by_kind(render_chart("values-prod.yaml", "dolibak-prod"))
    config = check_config_map(kinds["ConfigMap"][0])
    assert config["db_name"] and config["docs_dir"] == "/documents"
    jobs = {component(cj): cj for cj in kinds["CronJob"]}
    assert sorted(jobs) == ["backup", "status"]
    check_backup_cronjob(jobs["backup"])
    check_status_cronjob(jobs["status"])
    assert jobs["backup"]["metadata"]["name"] == "dolibak-prod-backup"
    # The prod values and the plain ConfigMap describe the same job.
    plain = by_kind(plain_manifests()["prod"])
    assert config == json.loads(plain["ConfigMap"][0]["data"]["dolibak.json"])


def test_chart_sandbox_values():
    kinds = by_kind(render_chart("values-sandbox.yaml", "dolibak-sandbox"))
    config = check_config_map(kinds["ConfigMap"][0])
    jobs = {component(cj): cj for cj in kinds["CronJob"]}
    assert sorted(jobs) == ["refresh"]
    check_refresh_cronjob(jobs["refresh"])
    # The same refresh as the plain manifest.
    plain = by_kind(plain_manifests()["sandbox"])
    assert pod_spec(jobs["refresh"])["containers"][0]["args"] == \
        pod_spec(plain["CronJob"][0])["containers"][0]["args"]
    assert config == json.loads(plain["ConfigMap"][0]["data"]["dolibak.json"])


def test_chart_secret_placeholders_only():
    with open(os.path.join(CHART, "values.yaml"), encoding="utf-8") as f:
        values = yaml.safe_load(f)
    values["secret"]["create"] = True
    for v in values["secret"]["stringData"].values():
        assert PLACEHOLDER.match(v)
    for vf in ("values-prod.yaml", "values-sandbox.yaml"):
        with open(os.path.join(CHART, vf), encoding="utf-8") as f:
            assert "stringData" not in f.read(), f"{vf} must not carry secrets"


def test_no_literal_secrets_anywhere():
    """No AWS key id, private key or non-placeholder secret assignment in any example."""
    aws_key = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
    assignment = re.compile(r"^\s*(?:export\s+)?(%s)\s*[=:]\s*\"?([^\"\s#]*)" % "|".join(SECRET_ENV),
                            re.MULTILINE)
    for f in example_files(".yaml", ".yml", ".json", ".service", ".timer", ".example",
                           ".py", ".cpp", "Dockerfile", ".md", ".env"):
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        assert not aws_key.search(text), f
        assert "PRIVATE KEY" not in text, f
        for m in assignment.finditer(text):
            value = m.group(2)
            assert not value or PLACEHOLDER.match(value) or value.startswith("$"), \
                f"{f}: {m.group(1)} has a literal value"


def test_settings_list_matches_the_library():
    """The SETTINGS list of this test is the library's own list (when the build has it)."""
    dolibak = pytest.importorskip("dolibak")
    keys = getattr(dolibak, "setting_keys", None) or getattr(getattr(dolibak, "job", None), "setting_keys", None)
    if keys is None:
        pytest.skip("this build's Python module has no setting_keys()")
    assert set(keys()) == SETTINGS


def test_config_examples_use_known_settings():
    with open(os.path.join(SYSTEMD, "dolibak.json.example"), encoding="utf-8") as f:
        config = json.load(f)
    assert not set(config) - SETTINGS
    assert not set(config) & SECRET_SETTINGS


# ---- systemd -------------------------------------------------------------------------------

def unit_directives(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def test_systemd_units_are_hardened():
    svc = unit_directives(os.path.join(SYSTEMD, "dolibak-backup.service"))
    for key, value in [("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                       ("PrivateTmp", "yes"), ("Type", "oneshot")]:
        assert svc[key] == [value], key
    assert any("documents" in p for p in svc["ReadOnlyPaths"])
    assert svc["EnvironmentFile"] == ["/etc/dolibak/dolibak.env"]
    assert svc["ExecStart"][0].split()[1] == "backup"
    timer = unit_directives(os.path.join(SYSTEMD, "dolibak-backup.timer"))
    assert timer["Persistent"] == ["true"]
    assert "RandomizedDelaySec" in timer
    assert timer["OnCalendar"] == ["*-*-* 02:00:00 UTC"]
    status = unit_directives(os.path.join(SYSTEMD, "dolibak-status.service"))
    assert "--metrics" in status["ExecStart"][0].split()
    with open(os.path.join(SYSTEMD, "dolibak.env.example"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                assert PLACEHOLDER.match(v), k


def built_cli():
    """The dolibak CLI of the build under test (DOLIBAK_PYTHONPATH=<build>/python)."""
    py = os.environ.get("DOLIBAK_PYTHONPATH")
    if py:
        exe = os.path.join(os.path.dirname(py), "bin", "dolibak")
        if os.access(exe, os.X_OK):
            return exe
    return None


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart= exists: point it at the built CLI (or /bin/true).
    exe = built_cli() or "/bin/true"
    units = []
    for name in sorted(os.listdir(SYSTEMD)):
        if name.endswith((".service", ".timer")):
            with open(os.path.join(SYSTEMD, name), encoding="utf-8") as f:
                text = f.read().replace("/usr/bin/dolibak", exe)
            (tmp_path / name).write_text(text)
            units.append(str(tmp_path / name))
    assert len(units) == 4
    p = subprocess.run([analyze, "verify", "--man=no"] + units, capture_output=True, text=True,
                       cwd=tmp_path)
    if p.returncode != 0 and "Failed to" in p.stderr and "bus" in p.stderr.lower():
        pytest.skip(f"systemd-analyze cannot run here: {p.stderr.strip()}")
    # Unknown or misspelled directives are only warnings (exit 0): any output is a failure.
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr


# ---- the CLI flags the examples use ----------------------------------------------------------

def example_command_lines():
    """(where, argv after 'dolibak') of every CLI invocation in the examples."""
    out = []
    for f in example_files(".service"):
        for cmd in unit_directives(f).get("ExecStart", []):
            out.append((f, cmd.split()[1:]))
    for f in example_files(".yaml"):
        if os.path.dirname(f) == K8S:
            for d in load_yaml_docs(f):
                if d["kind"] == "CronJob":
                    out.append((f, pod_spec(d)["containers"][0]["args"]))
    for vf in ("values-prod.yaml", "values-sandbox.yaml"):
        for d in render_chart(vf, "x"):
            if d["kind"] == "CronJob":
                out.append((vf, pod_spec(d)["containers"][0]["args"]))
    return out


def test_examples_use_existing_cli_flags():
    exe = built_cli()
    if not exe:
        pytest.skip("no built CLI (DOLIBAK_PYTHONPATH=<build>/python)")
    top = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    commands = set(re.findall(r"(?m)^  ([a-z][a-z-]*)\s", top.split("Subcommands:")[-1]))
    checked = 0
    missing_commands = set()
    for where, argv in example_command_lines():
        sub = argv[0]
        if sub not in commands:
            missing_commands.add(sub)
            continue
        p = subprocess.run([exe, sub, "--help"], capture_output=True, text=True, check=True)
        for arg in argv[1:]:
            if arg.startswith("--"):
                flag = arg.split("=", 1)[0]
                assert re.search(re.escape(flag) + r"\b", p.stdout), \
                    f"{where}: `dolibak {sub}` has no {flag}"
                checked += 1
    if not checked:
        pytest.skip(f"the CLI has none of these subcommands yet: {sorted(missing_commands)}")


# ---- Docker ----------------------------------------------------------------------------------

def dockerfile_runtime_packages():
    with open(DOCKERFILE, encoding="utf-8") as f:
        text = f.read()
    stages = re.split(r"(?m)^FROM\s+", text)[1:]
    assert len(stages) >= 2, "a multi-stage build"
    runtime = stages[-1]
    joined = re.sub(r"\\\n", " ", runtime)
    packages = set()
    for m in re.finditer(r"apt-get install[^&;\n]*", joined):
        packages |= {w for w in m.group(0).split()[2:] if not w.startswith("-")}
    return text, runtime, packages


def test_dockerfile_shape():
    text, runtime, packages = dockerfile_runtime_packages()
    froms = re.findall(r"(?m)^FROM\s+(\S+)", text)
    assert all("bookworm" in f for f in froms), froms
    assert "postgresql-client-15" in packages
    assert re.search(r'(?m)^ENTRYPOINT \["dolibak"\]', runtime) or \
        re.search(r'(?m)^ENTRYPOINT \["/usr/local/bin/dolibak"\]', runtime)
    users = re.findall(r"(?m)^USER\s+(\S+)", runtime)
    assert users and users[-1] not in ("root", "0"), "the runtime runs as a non-root user"
    assert not any(p.endswith("-dev") for p in packages), "no -dev packages at run time"


def test_dockerfile_runtime_covers_linked_libraries():
    py = os.environ.get("DOLIBAK_PYTHONPATH")
    if not py or not shutil.which("ldd") or not shutil.which("dpkg") or not shutil.which("objdump"):
        pytest.skip("needs a build (DOLIBAK_PYTHONPATH), ldd, objdump and dpkg")
    build = os.path.dirname(py)
    binaries = [os.path.join(d, f) for d in (os.path.join(build, "lib"), os.path.join(build, "libdolibak"))
                if os.path.isdir(d) for f in sorted(os.listdir(d)) if f.startswith("libdolibak.so")][:1]
    binaries += [p for p in [os.path.join(build, "bin", "dolibak")] if os.path.exists(p)]
    if len(binaries) < 2:
        pytest.skip(f"no libdolibak.so and bin/dolibak under {build}")
    _text, _runtime, packages = dockerfile_runtime_packages()
    # Always in a Debian image (Essential: yes): nothing to install.
    essential = {"libc6", "libgcc-s1"}
    missing = {}
    for binary in binaries:
        # The libraries this binary names itself (the runtime packages pull their own).
        needed = set(re.findall(r"NEEDED\s+(\S+)", subprocess.run(
            ["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout))
        assert needed, binary
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        for name, path in re.findall(r"^\s*(\S+)\s+=>\s+(/\S+)", ldd, re.MULTILINE):
            if name not in needed:
                continue
            owner = None
            for candidate in (path, os.path.realpath(path)):
                p = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if p.returncode == 0:
                    owner = p.stdout.split(":")[0].strip()
                    break
            if owner is None:
                if name.startswith("libdolibak"):
                    continue  # ours, copied from the build stage
                raise AssertionError(f"{binary}: {name} ({path}) is not from a Debian package")
            if owner not in packages and owner not in essential:
                missing[name] = owner
    assert not missing, f"the Dockerfile's runtime stage lacks {missing}"


# ---- Python example ----------------------------------------------------------------------------

PY_EXAMPLE = os.path.join(EXAMPLES, "python", "backup_and_verify.py")


def test_python_example_compiles(tmp_path):
    py_compile.compile(PY_EXAMPLE, cfile=str(tmp_path / "x.pyc"), doraise=True)


@pytest.fixture
def job_ready(tmp_path):
    """Skips unless this build's dolibak.Job can run a backup."""
    dolibak = pytest.importorskip("dolibak")
    if not hasattr(dolibak, "Job"):
        pytest.skip("dolibak.Job is not in this build yet")
    store = tmp_path / "probe-store"
    store.mkdir()
    docs = tmp_path / "probe-docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a")
    (docs / "install.lock").write_text("")  # the dolibarr profile requires it
    try:
        dolibak.Job({"store": "file://" + str(store), "docs_dir": str(docs), "db": False}).backup()
    except dolibak.Error as e:
        if "not written yet" in str(e):
            pytest.skip(f"Job.backup is not implemented in this build: {e}")
        raise


def test_python_example_end_to_end(job_ready, tmp_path, fresh_db, pg_server):
    import pgfixture

    pgfixture.psql(fresh_db, "CREATE TABLE llx_facture (rowid serial PRIMARY KEY, ref text);"
                             "INSERT INTO llx_facture (ref) VALUES ('FA2401-0001'), ('FA2401-0002');",
                   bin_dir=pg_server["bin_dir"])
    store = tmp_path / "store"
    store.mkdir()
    docs = tmp_path / "documents"
    (docs / "facture" / "FA2401-0001").mkdir(parents=True)
    (docs / "facture" / "FA2401-0001" / "FA2401-0001.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(4096))
    (docs / "install.lock").write_text("")  # the dolibarr profile requires it
    env = pgfixture.clean_env(pgfixture.libpq_env(fresh_db))
    env = {k: v for k, v in env.items() if not k.startswith("DOLIBAK_") or k == "DOLIBAK_PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.environ.get("DOLIBAK_PYTHONPATH", "")] if p)
    cmd = [sys.executable, PY_EXAMPLE, "--store", "file://" + str(store), "--docs-dir", str(docs),
           "--json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    outcomes = {h["half"]: h["outcome"] for h in report["backup"]["halves"]}
    assert outcomes.get("db") == "uploaded" and outcomes.get("docs") == "uploaded", outcomes
    assert report["verify"]["objects"] and all(o["ok"] for o in report["verify"]["objects"])
    assert report["status"]["stale"] is False
    assert fresh_db["password"] not in first.stdout + first.stderr
    # A second run stores nothing new.
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    outcomes = {h["half"]: h["outcome"] for h in json.loads(second.stdout)["backup"]["halves"]}
    assert outcomes.get("db") == "unchanged" and outcomes.get("docs") == "unchanged", outcomes
    # Text output too.
    text = subprocess.run(cmd[:-1], env=env, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "verified" in text.stdout, text.stdout + text.stderr
