"""examples/: what can be checked on this machine without a cluster, a Docker engine or systemd
as PID 1.

* every YAML file parses; the Kubernetes objects have the expected kinds and settings, no
  file renders a Secret, and credentials reach pods one Secret key at a time;
* every shipped schedule prunes after a successful backup; the compose file, the crontab and
  the image's scheduler run the documented command;
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

import json_contract
yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (tools/setup-debian)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
K8S = os.path.join(EXAMPLES, "kubernetes")
CHART = os.path.join(K8S, "chart")
SYSTEMD = os.path.join(EXAMPLES, "systemd")
DOCKERFILE = os.path.join(EXAMPLES, "docker", "Dockerfile")
SCHEDULER = os.path.join(EXAMPLES, "docker", "dolibak-schedule")
COMPOSE = os.path.join(EXAMPLES, "compose")
CRONTAB = os.path.join(EXAMPLES, "cron", "dolibak.crontab")
QUICKSTART = os.path.join(ROOT, "docs", "quickstart.md")

# The settings vocabulary (docs/configuration.md): the keys a config file may hold.
SETTINGS = {
    "store", "s3_endpoint", "s3_region", "s3_addressing", "s3_ca_bundle", "s3_content_md5",
    "s3_part_size",
    "s3_parallel_parts", "s3_retries", "s3_access_key_id", "s3_secret_access_key",
    "s3_session_token", "create_store_dir", "profile", "profile_file", "db", "db_host",
    "db_port", "db_user", "db_name", "db_password", "db_sslmode", "pg_tools_dir", "dump_mode",
    "dump_level", "zstd_level", "zstd_threads", "db_fingerprint", "volatile_tables", "globals",
    "globals_passwords", "docs_dir", "docs_mode", "docs_compression", "docs_level", "docs_threads",
    "docs_exclude", "docs_fingerprint", "skip_unreadable", "docs_allow_missing_required",
    "retention", "keep_daily_days",
    "keep_monthly_months", "keep_yearly_years", "keep_last", "keep_hourly", "keep_daily",
    "keep_weekly", "keep_monthly", "keep_yearly", "time_zone", "prune_after_backup",
    "on_success", "on_failure", "webhook_url", "notify_timeout", "age_recipients",
    "age_recipients_file", "age_identity_file", "lock_ttl",
    "temp_dir",
    "log_format", "cancel_grace", "progress_interval",
}
SECRET_SETTINGS = {"db_password", "s3_access_key_id", "s3_secret_access_key", "s3_session_token",
                   "webhook_url"}
# Environment variables that hold secrets; in the examples only as placeholders.
SECRET_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "DOLIBAK_DB_PASSWORD", "DOLIBAK_TARGET_PASSWORD", "PGPASSWORD", "DOLIBAK_S3_ACCESS_KEY_ID",
              "DOLIBAK_S3_SECRET_ACCESS_KEY", "DOLIBAK_S3_SESSION_TOKEN", "DOLIBAK_WEBHOOK_URL"}
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


def render_chart(values_file, release, overrides=None):
    """The chart's objects for `values_file` (None: the defaults) and `overrides` (a dict of
    values, as another -f file), as a list of dicts."""
    helm = shutil.which("helm")
    if helm:
        import tempfile
        cmd = [helm, "template", release, CHART]
        if values_file:
            cmd += ["-f", os.path.join(CHART, values_file)]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
            if overrides:
                yaml.safe_dump(overrides, extra)
                extra.flush()
                cmd += ["-f", extra.name]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return [d for d in yaml.safe_load_all(out) if d is not None]
    with open(os.path.join(CHART, "values.yaml"), encoding="utf-8") as f:
        values = yaml.safe_load(f)
    if values_file:
        with open(os.path.join(CHART, values_file), encoding="utf-8") as f:
            values = deep_merge(values, yaml.safe_load(f) or {})
    if overrides:
        values = deep_merge(values, overrides)
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


def job_spec(obj):
    return obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]


def pod_spec(obj):
    return job_spec(obj)["template"]["spec"]


def component(cronjob):
    return cronjob["metadata"]["labels"]["app.kubernetes.io/component"]


def check_config_map(cm):
    config = json.loads(cm["data"]["dolibak.json"])
    unknown = set(config) - SETTINGS
    assert not unknown, f"{cm['metadata']['name']}: unknown settings {sorted(unknown)}"
    assert not set(config) & SECRET_SETTINGS, "secrets belong in the Secret, not the ConfigMap"
    assert config["store"].startswith(("s3://", "file:///"))
    return config


def secret_refs(container):
    """env name -> (Secret, key) of the variables taken from a Secret's key."""
    out = {}
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            out[e["name"]] = (ref["name"], ref["key"])
    return out


def check_container(container, name):
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True, name
    assert sc["allowPrivilegeEscalation"] is False, name
    assert sc["capabilities"]["drop"] == ["ALL"], name
    assert "limits" in container["resources"] and "requests" in container["resources"], name
    # Secrets one key at a time through a secretKeyRef: never literal, never a whole Secret.
    assert "envFrom" not in container, f"{name}: a whole Secret loaded as environment"
    refs = secret_refs(container)
    for e in container.get("env", []):
        if e["name"] in SECRET_ENV:
            assert e["name"] in refs, f"{name}: {e['name']} given literally"


def check_hardened_pod(obj):
    spec = pod_spec(obj)
    name = obj["metadata"]["name"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    assert spec["securityContext"]["runAsUser"] != 0, name
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
    assert spec["automountServiceAccountToken"] is False, name
    containers = spec.get("initContainers", []) + spec["containers"]
    for c in containers:
        check_container(c, f"{name}/{c['name']}")
    if obj["kind"] == "CronJob":
        assert obj["spec"]["concurrencyPolicy"] == "Forbid", name
    assert isinstance(job_spec(obj)["ttlSecondsAfterFinished"], int), name
    return spec["containers"][0]


def check_fail_fast(obj):
    """Exit code 2 (a configuration error) fails the Job at once."""
    rules = job_spec(obj)["podFailurePolicy"]["rules"]
    fail = [r for r in rules if r["action"] == "FailJob"]
    assert any(r["onExitCodes"]["operator"] == "In" and 2 in r["onExitCodes"]["values"]
               and r["onExitCodes"]["containerName"] == "dolibak" for r in fail), obj["metadata"]["name"]


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
    check_fail_fast(cj)
    affinity = pod_spec(cj)["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert affinity[0]["topologyKey"] == "kubernetes.io/hostname"
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
    for cj in kinds["CronJob"]:
        spec = pod_spec(cj)
        assert any(v.get("configMap", {}).get("name") == cm_name for v in spec["volumes"])


def check_refresh_cronjob(cj):
    container = check_hardened_pod(cj)
    args = container["args"]
    assert args[0] == "refresh" and "--to-db" in args and "--role" in args
    for arg in args:
        assert "password" not in arg.lower(), "no secret in argv: DOLIBAK_TARGET_PASSWORD"
    refs = secret_refs(container)
    # A refresh never reads the store: no S3 keys.
    assert not {"DOLIBAK_S3_ACCESS_KEY_ID", "DOLIBAK_S3_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"} & set(refs)
    assert "DOLIBAK_TARGET_PASSWORD" in refs and "DOLIBAK_DB_PASSWORD" in refs
    check_fail_fast(cj)


def vso_destinations(kinds):
    """Secret name -> the VSO object writing it."""
    out = {}
    for kind in ("VaultDynamicSecret", "VaultStaticSecret"):
        for d in kinds.get(kind, []):
            assert d["apiVersion"] == "secrets.hashicorp.com/v1beta1"
            assert d["spec"]["vaultAuthRef"] and d["spec"]["mount"] and d["spec"]["path"]
            assert d["spec"]["destination"]["create"] is True
            out[d["spec"]["destination"]["name"]] = d
    return out


def resolve_env(container, secrets):
    """The environment a pod's container gets, with `secrets` (name -> {key: value}) standing
    for the cluster's Secrets; a missing Secret or key fails, as the kubelet does."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] in secrets, f"{e['name']}: no Secret {ref['name']}"
            assert ref["key"] in secrets[ref["name"]], f"{e['name']}: no key {ref['key']} in {ref['name']}"
            env[e["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def check_no_secret_objects(docs, where):
    """Nothing a user applies carries a Secret (placeholders would overwrite the real one)."""
    for d in docs:
        assert d["kind"] != "Secret", f"{where}: renders a Secret ({d['metadata']['name']})"


def test_plain_manifests():
    envs = plain_manifests()
    assert sorted(envs) == ["prod", "sandbox"]
    for docs in envs.values():
        check_no_secret_objects(docs, "examples/kubernetes")
    kinds = by_kind(envs["prod"])
    assert sorted(kinds) == ["ConfigMap", "CronJob", "VaultDynamicSecret", "VaultStaticSecret"]
    config = check_config_map(kinds["ConfigMap"][0])
    assert config["docs_dir"] == "/documents" and config["temp_dir"] == "/scratch"
    assert config["db_host"] == "pgbouncer.tools" and config["db_port"] == 5432
    jobs = {component(cj): cj for cj in kinds["CronJob"]}
    assert sorted(jobs) == ["backup", "status"]
    check_backup_cronjob(jobs["backup"])
    check_status_cronjob(jobs["status"])
    check_references(kinds)
    # Every Secret the CronJobs read is written by a VSO object of the same files.
    written = vso_destinations(kinds)
    for cj in kinds["CronJob"]:
        for name, (secret, _key) in secret_refs(pod_spec(cj)["containers"][0]).items():
            assert secret in written, f"{name}: nothing writes the Secret {secret}"

    kinds = by_kind(envs["sandbox"])
    assert sorted((k, len(v)) for k, v in kinds.items()) == [("ConfigMap", 1), ("CronJob", 1)]
    config = check_config_map(kinds["ConfigMap"][0])
    assert "docs_dir" not in config  # the refresh is database-only here
    check_refresh_cronjob(kinds["CronJob"][0])
    check_references(kinds)


def test_chart_defaults_render():
    docs = render_chart(None, "dolibak")
    check_no_secret_objects(docs, "chart defaults")
    kinds = by_kind(docs)
    check_config_map(kinds["ConfigMap"][0])
    # backup.enabled is false by default: an environment's values say what runs.
    assert sorted(kinds) == ["ConfigMap"]


def test_chart_prod_values():
    docs = render_chart("values-prod.yaml", "dolibak-prod")
    check_no_secret_objects(docs, "values-prod.yaml")
    kinds = by_kind(docs)
    config = check_config_map(kinds["ConfigMap"][0])
    assert config["db_name"] and config["docs_dir"] == "/documents"
    assert config["db_host"] == "pgbouncer.tools" and config["db_port"] == 5432
    jobs = {component(cj): cj for cj in kinds["CronJob"]}
    assert sorted(jobs) == ["backup", "status"]
    check_backup_cronjob(jobs["backup"])
    check_status_cronjob(jobs["status"])
    assert jobs["backup"]["metadata"]["name"] == "dolibak-prod-backup"
    assert job_spec(jobs["backup"])["ttlSecondsAfterFinished"] == 604800
    # The prod values and the plain ConfigMap describe the same job.
    plain = by_kind(plain_manifests()["prod"])
    assert config == json.loads(plain["ConfigMap"][0]["data"]["dolibak.json"])
    written = vso_destinations(kinds)
    assert sorted((d["kind"], name) for name, d in written.items()) == [
        ("VaultDynamicSecret", "dolibak-db"), ("VaultDynamicSecret", "dolibarr-owner"),
        ("VaultStaticSecret", "dolibak-s3")]
    assert written["dolibak-s3"]["spec"]["type"] == "kv-v2"


def test_chart_maps_vault_secrets_to_settings():
    """A VSO dynamic database Secret (username, password) becomes db_user/db_password and the
    static KV secret's keys the S3 keys: the environment the backup pod gets, resolved."""
    kinds = by_kind(render_chart("values-prod.yaml", "dolibak-prod"))
    backup = next(cj for cj in kinds["CronJob"] if component(cj) == "backup")
    secrets = {"dolibak-db": {"username": "v-kubernetes-dolibak-x1", "password": "rotated-1"},
               "dolibak-s3": {"access_key_id": "SCWKEY", "secret_access_key": "hmac-secret"}}
    env = resolve_env(pod_spec(backup)["containers"][0], secrets)
    assert env == {"DOLIBAK_CONFIG": "/etc/dolibak/dolibak.json",
                   "DOLIBAK_DB_USER": "v-kubernetes-dolibak-x1", "DOLIBAK_DB_PASSWORD": "rotated-1",
                   "DOLIBAK_S3_ACCESS_KEY_ID": "SCWKEY", "DOLIBAK_S3_SECRET_ACCESS_KEY": "hmac-secret"}
    # Those variables are the library's own settings.
    for name in env:
        if name != "DOLIBAK_CONFIG":
            assert name[len("DOLIBAK_"):].lower() in SETTINGS, name
    # Any other Secret, any key names: the mapping is explicit.
    other = {"credentials": {"database": {"existingSecret": "pg", "userKey": "", "passwordKey": "pw"},
                             "s3": {"existingSecret": "hmac", "accessKeyIdKey": "id",
                                    "secretAccessKeyKey": "key"}},
             "vault": {"database": {"enabled": False}, "s3": {"enabled": False},
                       "target": {"enabled": False}}}
    kinds = by_kind(render_chart("values-prod.yaml", "x", other))
    assert not vso_destinations(kinds)
    backup = next(cj for cj in kinds["CronJob"] if component(cj) == "backup")
    env = resolve_env(pod_spec(backup)["containers"][0], {"pg": {"pw": "p"}, "hmac": {"id": "i", "key": "k"}})
    assert env["DOLIBAK_DB_PASSWORD"] == "p" and "DOLIBAK_DB_USER" not in env
    assert env["DOLIBAK_S3_ACCESS_KEY_ID"] == "i" and env["DOLIBAK_S3_SECRET_ACCESS_KEY"] == "k"


def test_chart_sandbox_values():
    docs = render_chart("values-sandbox.yaml", "dolibak-sandbox")
    check_no_secret_objects(docs, "values-sandbox.yaml")
    kinds = by_kind(docs)
    config = check_config_map(kinds["ConfigMap"][0])
    jobs = {component(cj): cj for cj in kinds["CronJob"]}
    assert sorted(jobs) == ["refresh"]
    check_refresh_cronjob(jobs["refresh"])
    # No S3 keys anywhere in the sandbox: no Secret or VSO object for them.
    assert [d["spec"]["destination"]["name"] for d in kinds.get("VaultStaticSecret", [])] == []
    # The same refresh as the plain manifest.
    plain = by_kind(plain_manifests()["sandbox"])
    assert pod_spec(jobs["refresh"])["containers"][0]["args"] == \
        pod_spec(plain["CronJob"][0])["containers"][0]["args"]
    assert config == json.loads(plain["ConfigMap"][0]["data"]["dolibak.json"])
    env = resolve_env(pod_spec(jobs["refresh"])["containers"][0],
                      {"dolibak-prod-readonly": {"username": "u", "password": "p"},
                       "dolibarr-sandbox-owner": {"password": "t"}})
    assert env["DOLIBAK_DB_USER"] == "u" and env["DOLIBAK_TARGET_PASSWORD"] == "t"


def test_chart_pod_options_reach_every_pod():
    opts = {"serviceAccountName": "dolibak", "imagePullSecrets": [{"name": "registry"}],
            "nodeSelector": {"pool": "tools"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tools",
                             "effect": "NoSchedule"}],
            "oneOff": {"enabled": True}, "restore": {"enabled": True}}
    kinds = by_kind(render_chart("values-prod.yaml", "dolibak-prod", opts))
    pods = kinds["CronJob"] + kinds["Job"]
    assert len(pods) == 4
    for obj in pods:
        spec = pod_spec(obj)
        name = obj["metadata"]["name"]
        assert spec["imagePullSecrets"] == [{"name": "registry"}], name
        assert spec["nodeSelector"] == {"pool": "tools"}, name
        assert spec["tolerations"][0]["key"] == "dedicated", name
        if component(obj) != "restore":
            assert spec["serviceAccountName"] == "dolibak", name


def test_chart_one_off_job():
    kinds = by_kind(render_chart("values-prod.yaml", "dolibak-prod",
                                 {"oneOff": {"enabled": True, "name": "drill-1",
                                             "args": ["verify", "latest", "--log-format", "json"]}}))
    (job,) = kinds["Job"]
    assert job["metadata"]["name"] == "dolibak-prod-drill-1"
    container = check_hardened_pod(job)
    assert container["args"] == ["verify", "latest", "--log-format", "json"]
    check_fail_fast(job)
    assert "affinity" in pod_spec(job)  # next to the documents volume, as the backup


def test_chart_restore_job():
    kinds = by_kind(render_chart("values-prod.yaml", "dolibak-prod", {"restore": {"enabled": True}}))
    check_no_secret_objects([d for v in kinds.values() for d in v], "restore")
    (job,) = kinds["Job"]
    check_hardened_pod(job)
    spec = pod_spec(job)
    assert job_spec(job)["backoffLimit"] == 0
    steps = [c["name"] for c in spec["initContainers"]] + [c["name"] for c in spec["containers"]]
    # Stop the application, restore (each step proven by dolibak), start it only after both.
    assert steps == ["stop-application", "restore-db", "restore-docs", "start-application"]
    init = {c["name"]: c for c in spec["initContainers"]}
    assert init["restore-db"]["args"][:3] == ["restore", "db", "latest"]
    assert init["restore-docs"]["args"][:5] == ["restore", "docs", "latest", "--to", "/documents"]
    assert "pgbouncer" not in " ".join(init["restore-db"]["args"])
    assert "--replicas=0" in " ".join(init["stop-application"]["command"])
    start = spec["containers"][0]
    assert {"name": "REPLICAS", "value": "1"} in start["env"]
    # The API token only where kubectl runs.
    for c in spec["initContainers"] + spec["containers"]:
        mounted = any(m["name"] == "kube-api-access" for m in c["volumeMounts"])
        assert mounted == c["name"].endswith("-application"), c["name"]
    docs_mount = next(m for m in init["restore-docs"]["volumeMounts"] if m["name"] == "documents")
    assert not docs_mount.get("readOnly")
    env = resolve_env(init["restore-db"], {"dolibak-db": {"username": "u", "password": "p"},
                                           "dolibak-s3": {"access_key_id": "i", "secret_access_key": "k"},
                                           "dolibarr-owner": {"username": "owner", "password": "o"}})
    assert env["DOLIBAK_TARGET_PASSWORD"] == "o" and env["PGUSER"] == "owner"
    # RBAC: the Job's own account may scale that one Deployment and watch pods, nothing else.
    (sa,) = kinds["ServiceAccount"]
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    (role,) = kinds["Role"]
    (binding,) = kinds["RoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == sa["metadata"]["name"]
    scale = next(r for r in role["rules"] if "deployments/scale" in r["resources"])
    assert scale["resourceNames"] == ["dolibarr"] and "patch" in scale["verbs"]
    assert "delete" not in {v for r in role["rules"] for v in r["verbs"]}
    assert "secrets" not in {res for r in role["rules"] for res in r["resources"]}


def test_chart_values_carry_no_secrets():
    for vf in ("values.yaml", "values-prod.yaml", "values-sandbox.yaml"):
        with open(os.path.join(CHART, vf), encoding="utf-8") as f:
            text = f.read()
        assert "stringData" not in text and "REPLACE_WITH" not in text, vf
    assert not any(n.startswith("secret") for n in os.listdir(os.path.join(CHART, "templates")))


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


# ---- every schedule prunes -------------------------------------------------------------------

# The scheduled command the quickstart documents ("Schedule it"), as the crontab and the
# compose service's scheduler run it.
DOCUMENTED_BACKUP = ["dolibak", "backup", "--prune", "--metrics"]


def prunes(argv, config):
    """Whether `dolibak <argv>` with the settings `config` prunes after a successful run."""
    assert argv[0] == "backup", argv
    if "--no-prune" in argv:
        return False
    return "--prune" in argv or str(config.get("prune_after_backup", False)).lower() in ("true", "1", "yes", "on")


def crontab_commands():
    """The commands of the crontab's entries (after the environment set-up)."""
    out = []
    with open(CRONTAB, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or re.match(r"^[A-Z_]+=", line):
                continue
            fields = line.split(None, 6)
            assert len(fields) == 7, line  # m h dom mon dow user command
            command = fields[6].split("&&")[-1].split()
            while "=" in command[0]:
                command = command[1:]
            out.append((fields[:5], fields[5], command))
    return out


def scheduler_commands():
    """The dolibak command lines of the image's scheduler, as it runs them."""
    with open(SCHEDULER, encoding="utf-8") as f:
        return [line.split() for line in (l.strip() for l in f) if line.startswith("dolibak ")]


def documented_schedule():
    with open(QUICKSTART, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## 5. Schedule it", 1)[1]
    m = re.search(r"^(dolibak backup [^\n]*)$", section, re.MULTILINE)
    assert m, "docs/quickstart.md documents the scheduled backup command"
    return m.group(1).split()


def test_every_shipped_schedule_prunes():
    checked = []
    # Kubernetes: the plain CronJobs with their ConfigMap, the chart's for every values file.
    sources = [("examples/kubernetes", docs) for docs in plain_manifests().values()]
    sources += [(vf, render_chart(vf, "x")) for vf in (None, "values-prod.yaml", "values-sandbox.yaml")]
    for where, docs in sources:
        kinds = by_kind(docs)
        configs = {cm["metadata"]["name"]: json.loads(cm["data"]["dolibak.json"]) for cm in kinds.get("ConfigMap", [])}
        for cj in kinds.get("CronJob", []):
            container = pod_spec(cj)["containers"][0]
            if container["args"][0] != "backup":
                continue
            (cm,) = [v["configMap"]["name"] for v in pod_spec(cj)["volumes"] if "configMap" in v]
            assert prunes(container["args"], configs[cm]), f"{where}: {cj['metadata']['name']}"
            checked.append(where)
    # systemd
    with open(os.path.join(SYSTEMD, "dolibak.json.example"), encoding="utf-8") as f:
        systemd_config = json.load(f)
    (start,) = unit_directives(os.path.join(SYSTEMD, "dolibak-backup.service"))["ExecStart"]
    assert prunes(start.split()[1:], systemd_config)
    assert prunes(start.split()[1:], {}), "the unit prunes whatever the config file says"
    checked.append("systemd")
    # crontab and the compose service's scheduler: the documented command, which prunes alone.
    documented = documented_schedule()
    assert documented[:len(DOCUMENTED_BACKUP)] == DOCUMENTED_BACKUP
    for name, commands in (("crontab", [c for _t, _u, c in crontab_commands()]),
                           ("dolibak-schedule", scheduler_commands())):
        backups = [c for c in commands if c[1] == "backup"]
        assert len(backups) == 1, name
        assert backups[0][:len(DOCUMENTED_BACKUP)] == DOCUMENTED_BACKUP, name
        assert prunes(backups[0][1:], {}), name
        checked.append(name)
    with open(os.path.join(COMPOSE, "dolibak.json"), encoding="utf-8") as f:
        compose_config = json.load(f)
    assert compose_config["prune_after_backup"] is True
    assert len(checked) >= 5 and "values-prod.yaml" in checked


# ---- compose, crontab, the image's scheduler -------------------------------------------------------

def test_compose_file():
    """The checks `docker compose config` makes that matter here (no compose on this machine):
    known top-level keys, the service's keys, volumes declared, files present; and the
    service runs the image's scheduler, with a healthcheck and the metrics directory."""
    with open(os.path.join(COMPOSE, "compose.yaml"), encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    assert set(compose) <= {"name", "services", "volumes", "networks", "secrets", "configs"}
    service_keys = {"image", "build", "entrypoint", "command", "restart", "user", "group_add",
                    "read_only", "cap_drop", "security_opt", "environment", "env_file",
                    "extra_hosts", "volumes", "healthcheck", "tmpfs"}
    (name,) = compose["services"]
    svc = compose["services"][name]
    assert set(svc) <= service_keys, set(svc) - service_keys
    assert svc["entrypoint"] == ["dolibak-schedule"]
    assert svc["restart"] in ("unless-stopped", "always")
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert not svc["user"].startswith(("0:", "root"))
    assert svc["build"]["dockerfile"] == "examples/docker/Dockerfile"
    assert os.path.exists(os.path.join(COMPOSE, svc["build"]["context"], svc["build"]["dockerfile"]))
    env = svc["environment"]
    assert re.match(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", env["DOLIBAK_BACKUP_AT"])
    assert not set(env) & SECRET_ENV, "secrets belong in the env_file"
    assert svc["env_file"] == ["dolibak.env"]
    with open(os.path.join(COMPOSE, "dolibak.env.example"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                assert k in SECRET_ENV and PLACEHOLDER.match(v), k
    mounts = {}
    for v in svc["volumes"]:
        parts = v.split(":")
        mounts[parts[1]] = parts
        if not parts[0].startswith(("/", ".")):
            assert parts[0] in compose["volumes"], f"volume {parts[0]} is not declared"
    assert mounts["/documents"][2] == "ro" and mounts["/etc/dolibak/dolibak.json"][2] == "ro"
    assert env["DOLIBAK_METRICS_DIR"] in mounts
    config_file = os.path.join(COMPOSE, mounts["/etc/dolibak/dolibak.json"][0])
    with open(config_file, encoding="utf-8") as f:
        config = json.load(f)
    assert not set(config) - SETTINGS and not set(config) & SECRET_SETTINGS
    assert config["docs_dir"] == "/documents" and config["temp_dir"] in mounts
    test = svc["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["dolibak", "status"] and "--max-age" in test
    for k in ("interval", "timeout", "start_period"):
        assert re.match(r"^\d+[smh]$", svc["healthcheck"][k]), k


def test_crontab():
    entries = crontab_commands()
    assert len(entries) == 2
    for times, user, command in entries:
        assert len(times) == 5 and user == "dolibak" and command[0] == "dolibak"
    (status,) = [c for _t, _u, c in entries if c[1] == "status"]
    assert "--max-age" in status and "--metrics" in status


@pytest.fixture
def fake_dolibak(tmp_path):
    """A `dolibak` on PATH that records its argv and exits with $FAKE_RC."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (bin_dir / "dolibak").write_text('#!/bin/sh\necho "$*" >> "%s"\nexit "${FAKE_RC:-0}"\n' % log)
    (bin_dir / "dolibak").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "DOLIBAK_METRICS_DIR": str(tmp_path / "m")}
    return env, log


def run_scheduler(env, *args):
    return subprocess.run(["/bin/sh", SCHEDULER, *args], env=env, capture_output=True, text=True,
                          timeout=30)


def test_scheduler_runs_the_documented_command(fake_dolibak):
    env, log = fake_dolibak
    p = run_scheduler(env, "once")
    assert p.returncode == 0, p.stderr
    m = env["DOLIBAK_METRICS_DIR"]
    assert log.read_text().splitlines() == [
        f"backup --prune --metrics {m}/dolibak_backup.prom",
        f"status --max-age 26h --metrics {m}/dolibak_status.prom"]
    # A failed backup: the status still refreshes the metrics; the exit is the backup's.
    log.unlink()
    p = run_scheduler(dict(env, FAKE_RC="3"), "once")
    assert p.returncode == 3 and len(log.read_text().splitlines()) == 2


def test_scheduler_next_run(fake_dolibak):
    env, _log = fake_dolibak
    day = 1767225600  # 2026-01-01T00:00:00Z
    for now, at, expected in [(day + 3600, "02:00", 3600), (day + 3 * 3600, "02:00", 23 * 3600),
                              (day + 2 * 3600, "02:00", 86400), (day, "23:59", 86340),
                              (day + 7 * 3600 + 30, "08:05", 65 * 60 - 30)]:
        p = run_scheduler(dict(env, DOLIBAK_SCHEDULE_NOW=str(now), DOLIBAK_BACKUP_AT=at), "next")
        assert p.returncode == 0 and int(p.stdout) == expected, (at, p.stdout, p.stderr)
    for bad in ("2:00", "24:00", "12:60", "noon"):
        p = run_scheduler(dict(env, DOLIBAK_BACKUP_AT=bad), "next")
        assert p.returncode == 2 and "DOLIBAK_BACKUP_AT" in p.stderr, bad
    p = run_scheduler(env, "sometimes")
    assert p.returncode == 2


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
        for d in render_chart(vf, "x", {"oneOff": {"enabled": True}, "restore": {"enabled": True}}):
            if d["kind"] in ("CronJob", "Job"):
                spec = pod_spec(d)
                for c in spec.get("initContainers", []) + spec["containers"]:
                    if "args" in c:
                        out.append((vf, c["args"]))
    out += [("crontab", c[1:]) for _t, _u, c in crontab_commands()]
    out += [("dolibak-schedule", [a for a in c[1:] if not a.startswith('"$')]) for c in scheduler_commands()]
    out.append(("quickstart", documented_schedule()[1:]))
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
        if "SUBCOMMAND" in p.stdout.split("\n", 3)[1]:  # e.g. `restore db`: that one's flags
            p = subprocess.run([exe, sub, argv[1], "--help"], capture_output=True, text=True,
                               check=True)
        known = p.stdout
        if "dolibak help settings" in known:  # the settings flags are listed there, once
            known += subprocess.run([exe, "help", "settings"], capture_output=True, text=True,
                                    check=True).stdout
        for arg in argv[1:]:
            if arg.startswith("--"):
                flag = arg.split("=", 1)[0]
                assert re.search(re.escape(flag) + r"\b", known), \
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
    # Both stages start from BASE_IMAGE, Debian bookworm by default; the runtime stage copies
    # from the stage named build (which the image's test replaces with --build-context).
    assert re.search(r"(?m)^ARG BASE_IMAGE=debian:bookworm-slim$", text)
    froms = re.findall(r"(?m)^FROM\s+(.+)$", text)
    assert froms == ["${BASE_IMAGE} AS build", "${BASE_IMAGE} AS runtime"], froms
    assert re.search(r"(?m)^COPY --from=build /staging/usr/local/ /usr/local/$", runtime)
    assert "postgresql-client-15" in packages
    assert re.search(r'(?m)^ENTRYPOINT \["dolibak"\]', runtime) or \
        re.search(r'(?m)^ENTRYPOINT \["/usr/local/bin/dolibak"\]', runtime)
    users = re.findall(r"(?m)^USER\s+(\S+)", runtime)
    assert users and users[-1] not in ("root", "0"), "the runtime runs as a non-root user"
    assert not any(p.endswith("-dev") for p in packages), "no -dev packages at run time"
    # The compose service's scheduler is in the image, executable, and needs only sh + date.
    assert re.search(r"(?m)^COPY examples/docker/dolibak-schedule /usr/local/bin/dolibak-schedule$", runtime)
    assert os.access(SCHEDULER, os.X_OK)


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
    # The example prints the library's documents (to_dict()): each is a dolibak.* document.
    for part, kind in (("backup", "backup"), ("verify", "verify"), ("status", "status")):
        json_contract.validate(report[part], kind)
    outcomes = {h["half"]: h["outcome"] for h in report["backup"]["halves"]}
    assert outcomes.get("db") == "uploaded" and outcomes.get("docs") == "uploaded", outcomes
    assert report["verify"]["objects"] and all(o["ok"] for o in report["verify"]["objects"])
    assert report["status"]["stale"] is False
    assert fresh_db["password"] not in first.stdout + first.stderr
    # A second run stores nothing new.
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    outcomes = {h["half"]: h["outcome"] for h in json_contract.validate(json.loads(second.stdout)["backup"], "backup")["halves"]}
    assert outcomes.get("db") == "unchanged" and outcomes.get("docs") == "unchanged", outcomes
    # Text output too.
    text = subprocess.run(cmd[:-1], env=env, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "verified" in text.stdout, text.stdout + text.stderr
