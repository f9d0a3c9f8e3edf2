#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""deploy/ against the real thing:

  rules      promtool check rules deploy/kafkatap-rules.yaml; promtool test
             rules deploy/tests/kafkatap-rules.test.yaml (lost events, lag,
             label budget, partition errors, latency, down fire on synthetic
             series), and the unit tests fail when an alert is broken
  yaml       deploy/*.yaml parse; the DaemonSet's args, ports, probe paths and
             scrape annotations agree with `kafkatap serve --help` (:9977,
             /healthz, /metrics); Service and ServiceMonitor select the pods
  docker     deploy/Dockerfile's runtime packages cover every shared object
             `ldd kafkatap` lists (dpkg -S), its build packages are those of
             tools/install-deps.sh
  live       librdkafka's mock cluster on lo, a real workload (producer,
             consumer group with a known lag, admin, partition errors, a
             deprecated request), `kafkatap serve` started with the
             DaemonSet's args and nothing but the DaemonSet's capabilities,
             a real Prometheus scraping it with deploy/kafkatap-rules.yaml
             loaded: every PromQL expression of the dashboard (template
             variables as .* and as concrete values) and of the rules runs
             without error, the core panels are non-empty and right, every
             metric name they use is a family kafkatap exposes and every
             label they filter on is one of its labels, the rules evaluate
             cleanly and the partition-error alert goes pending

Needs root (BPF), Debian's prometheus (prometheus, promtool),
python3-yaml, python3-confluent-kafka (/usr/bin/python3), util-linux
(setpriv, prlimit), binutils, and a built tree (make; .output/tools/mockcluster).
Logs: tests/out/deploy.*
"""
import calendar
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_test as L  # noqa: E402
import prom_test as P  # noqa: E402

ROOT = L.ROOT
DEPLOY = os.path.join(ROOT, "deploy")
RULES = os.path.join(DEPLOY, "kafkatap-rules.yaml")
RULES_TEST = os.path.join(DEPLOY, "tests", "kafkatap-rules.test.yaml")
DASHBOARD = os.path.join(DEPLOY, "grafana-dashboard.json")
DAEMONSET = os.path.join(DEPLOY, "daemonset.yaml")
SERVICEMONITOR = os.path.join(DEPLOY, "servicemonitor.yaml")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")

# The workload's truth.
TOPIC, TOPIC2, ADMIN_TOPIC = "dep-orders", "dep-audit", "dep-admin"
N_ORDERS, N_AUDIT = 300, 30
ROUNDS = 3              # produce rounds, each in Prometheus before the next
PROM_TIMEOUT = 60       # s: how long Prometheus may take to show a round
GROUP = "dep-group"
LAG_PER_PARTITION, PARTITIONS = 10, 3
PRODUCER, CONSUMER, ADMIN, LEGACY = "deploy-producer", "deploy-consumer", "deploy-admin", "deploy-legacy"

CK = L.Checks()
check, failures = CK.check, CK.failed


def log(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------ prerequisites

def prerequisites():
    """Missing tools: say what to install, exit 1."""
    missing = []
    for tool, pkg in (("prometheus", "prometheus"), ("promtool", "prometheus"),
                      ("dpkg-query", "dpkg"), ("ldd", "libc-bin"), ("objdump", "binutils"),
                      ("setpriv", "util-linux"), ("prlimit", "util-linux")):
        if not shutil.which(tool):
            missing.append("%s (Debian package %s)" % (tool, pkg))
    try:
        import yaml  # noqa: F401
    except ImportError:
        missing.append("python3 module yaml (Debian package python3-yaml)")
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        missing.append("python3 module confluent_kafka (Debian package python3-confluent-kafka)")
    for path, what in ((L.KAFKATAP, "./kafkatap (run make)"),
                       (os.path.join(L.TOOLS, "mockcluster"), ".output/tools/mockcluster (run make)")):
        if not os.access(path, os.X_OK):
            missing.append(what)
    for path in (RULES, RULES_TEST, DASHBOARD, DAEMONSET, SERVICEMONITOR, DOCKERFILE):
        if not os.path.exists(path):
            missing.append(os.path.relpath(path, ROOT))
    if missing:
        for m in missing:
            log("deploy_test: missing: " + m)
        log("deploy_test: install with: apt-get install prometheus python3-yaml "
            "python3-confluent-kafka util-linux binutils (tools/install-deps.sh installs "
            "them: make test runs it), then make")
        sys.exit(1)
    if os.geteuid() != 0:
        log("deploy_test: needs root (loads a BPF program)")
        sys.exit(1)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ------------------------------------------------------------------ (a) rules

def test_rules():
    r = run(["promtool", "check", "rules", RULES])
    check(r.returncode == 0, "promtool check rules deploy/kafkatap-rules.yaml: %s" %
          (r.stdout + r.stderr).strip().splitlines()[-1:], r.stdout + r.stderr)
    r = run(["promtool", "test", "rules", RULES_TEST])
    check(r.returncode == 0 and "SUCCESS" in r.stdout,
          "promtool test rules deploy/tests/kafkatap-rules.test.yaml (lost events, lag, "
          "label budget, partition errors, latency, down)", r.stdout + r.stderr)
    # The unit tests must bite: break an alert, they must fail.
    rules = open(RULES).read()
    # promtool must fail on the broken alert's own tests, and on nothing
    # else: a harness that cannot run the tests at all (a wrong path, a YAML
    # error) names no alert and does not pass for a biting test.
    mutants = (
        ("KafkatapLostEvents", "never fires", "rate(kafkatap_lost_events_total[5m]) > 0",
         "rate(kafkatap_lost_events_total[5m]) > 1000"),
        ("KafkaConsumerLagGrowing", "ignores growth", "deriv(kafkatap_consumer_group_lag_records[15m])) > 0",
         "deriv(kafkatap_consumer_group_lag_records[15m])) < 0"),
    )
    for alert, what, old, new in mutants:
        if not check(rules.count(old) == 1, "rules contain %r once" % old):
            continue
        d = tempfile.mkdtemp(prefix="kafkatap-rules-")
        try:
            os.makedirs(os.path.join(d, "tests"))
            open(os.path.join(d, "kafkatap-rules.yaml"), "w").write(rules.replace(old, new))
            shutil.copy(RULES_TEST, os.path.join(d, "tests"))
            r = run(["promtool", "test", "rules", os.path.join(d, "tests", os.path.basename(RULES_TEST))])
            out = r.stdout + r.stderr
            failed = set(re.findall(r"alertname: (\w+),", out))
            failed_exprs = re.findall(r'^\s*expr: "(.*)", time:', out, re.M)
            check(r.returncode != 0 and "FAILED" in out and failed == {alert} and not failed_exprs,
                  "promtool test rules fails on a broken rule, in that alert's tests only "
                  "(%s %s; failed: %s)" % (alert, what, ", ".join(sorted(failed) + failed_exprs) or
                                           "none named"), out[-2000:])
        finally:
            shutil.rmtree(d)


# ------------------------------------------------------------------ (c) yaml

def serve_help():
    r = run([L.KAFKATAP, "serve", "--help"])
    text = r.stdout + r.stderr
    m = re.search(r"--listen ADDR:PORT.*?default (\S*?):(\d+)", text, re.S)
    return text, (int(m.group(2)) if m else None)


def test_yaml():
    import yaml
    docs = {}
    for path in (DAEMONSET, SERVICEMONITOR, RULES, RULES_TEST):
        try:
            loaded = [d for d in yaml.safe_load_all(open(path)) if d is not None]
            check(bool(loaded), "%s parses (%d documents)" % (os.path.relpath(path, ROOT), len(loaded)))
            docs[path] = loaded
        except yaml.YAMLError as e:
            check(False, "%s parses" % os.path.relpath(path, ROOT), str(e))
            docs[path] = []
    help_text, port = serve_help()
    check(port == 9977, "kafkatap serve --help: default --listen port %s" % port)
    check("/healthz" in help_text and "/metrics" in help_text, "kafkatap serve --help names /metrics and /healthz")

    by_kind = {}
    for d in docs[DAEMONSET] + docs[SERVICEMONITOR]:
        by_kind.setdefault(d.get("kind"), []).append(d)
    for kind in ("Namespace", "ServiceAccount", "DaemonSet", "Service", "ServiceMonitor"):
        check(len(by_kind.get(kind, [])) == 1, "one %s in deploy/" % kind)
    ds = (by_kind.get("DaemonSet") or [{}])[0]
    ns = (by_kind.get("Namespace") or [{}])[0].get("metadata", {}).get("name")
    for kind, items in by_kind.items():
        if kind != "Namespace":
            for it in items:
                check(it.get("metadata", {}).get("namespace") == ns,
                      "%s %s in namespace %s" % (kind, it.get("metadata", {}).get("name"), ns))
    spec = ds.get("spec", {}).get("template", {}).get("spec", {})
    meta = ds.get("spec", {}).get("template", {}).get("metadata", {})
    check(spec.get("hostNetwork") is True, "DaemonSet: hostNetwork (the node's interfaces)")
    check(spec.get("dnsPolicy") == "ClusterFirstWithHostNet", "DaemonSet: dnsPolicy ClusterFirstWithHostNet")
    check(any(t.get("operator") == "Exists" and not t.get("key") for t in spec.get("tolerations", [])),
          "DaemonSet: tolerates every taint (runs on all nodes)")
    check(spec.get("serviceAccountName") == (by_kind.get("ServiceAccount") or [{}])[0].get("metadata", {}).get("name"),
          "DaemonSet: uses the ServiceAccount")
    check(ds.get("spec", {}).get("selector", {}).get("matchLabels", {}).items() <= meta.get("labels", {}).items(),
          "DaemonSet: selector matches the pod labels")
    check(not any("bpf" in json.dumps(v) for v in spec.get("volumes", [])),
          "DaemonSet: no /sys/fs/bpf mount (kafkatap pins nothing)")
    pins = run(["grep", "-rlE", r"bpf_obj_pin|bpf_map__pin|bpf_program__pin|bpf_link__pin|pin_root_path",
                os.path.join(ROOT, "user")]).stdout.split()
    check(not pins, "kafkatap's userspace pins no BPF object", " ".join(pins))
    cs = spec.get("containers", [])
    check(len(cs) == 1, "DaemonSet: one container")
    c = cs[0] if cs else {}
    args = c.get("args", [])
    check(args[:1] == ["serve"] and "-p" in args, "DaemonSet args %s: serve with a broker port" % args)
    for a in args:
        if a.startswith("-"):
            check(re.search(r"(^|[ ,])%s([ ,=]|$)" % re.escape(a), help_text, re.M) is not None,
                  "DaemonSet arg %s is an option of kafkatap serve" % a)
    listen_port = port
    if "--listen" in args:
        listen_port = int(args[args.index("--listen") + 1].rsplit(":", 1)[1])
    ports = {p.get("name"): p for p in c.get("ports", [])}
    mport = ports.get("metrics", {})
    check(mport.get("containerPort") == listen_port == 9977,
          "container port 'metrics' %s = kafkatap's listen port %s" % (mport.get("containerPort"), listen_port))
    check(mport.get("hostPort") in (None, mport.get("containerPort")), "hostPort = containerPort (hostNetwork)")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        h = c.get(probe, {}).get("httpGet", {})
        p = h.get("port")
        p = ports.get(p, {}).get("containerPort") if isinstance(p, str) else p
        check(h.get("path") == "/healthz" and p == listen_port,
              "%s: GET /healthz on %s" % (probe, p))
    ann = meta.get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(listen_port)
          and ann.get("prometheus.io/path", "/metrics") == "/metrics",
          "pod annotations: prometheus.io/scrape true, port %s, path /metrics" % ann.get("prometheus.io/port"))
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(sc.get("privileged") is False, "securityContext: not privileged")
    check(set(caps.get("add", [])) == {"BPF", "PERFMON", "NET_ADMIN"} and caps.get("drop") == ["ALL"],
          "securityContext: drop ALL, add BPF PERFMON NET_ADMIN (%s)" % caps.get("add"))
    check(sc.get("runAsUser") == 0, "securityContext: root (capabilities are not given to non-root)")
    res = c.get("resources", {})
    check(bool(res.get("requests", {}).get("memory")) and bool(res.get("limits", {}).get("memory")),
          "resources: memory request and limit")
    svc = (by_kind.get("Service") or [{}])[0]
    sp = svc.get("spec", {})
    check(sp.get("clusterIP") == "None", "Service is headless")
    check(sp.get("selector", {}).items() <= meta.get("labels", {}).items(), "Service selects the kafkatap pods")
    sport = (sp.get("ports") or [{}])[0]
    tp = sport.get("targetPort")
    tp = ports.get(tp, {}).get("containerPort") if isinstance(tp, str) else tp
    check(sport.get("port") == listen_port and tp == listen_port,
          "Service port %s -> %s" % (sport.get("port"), tp))
    sm = (by_kind.get("ServiceMonitor") or [{}])[0].get("spec", {})
    check(sm.get("selector", {}).get("matchLabels", {}).items() <= svc.get("metadata", {}).get("labels", {}).items(),
          "ServiceMonitor selects the Service")
    ep = (sm.get("endpoints") or [{}])[0]
    check(ep.get("port") == sport.get("name") and ep.get("path", "/metrics") == "/metrics",
          "ServiceMonitor endpoint: port %s, path %s" % (ep.get("port"), ep.get("path")))
    check(ns in sm.get("namespaceSelector", {}).get("matchNames", []), "ServiceMonitor looks in namespace %s" % ns)
    # The rules' job label is the ServiceMonitor's: jobLabel -> the Service's label value.
    job = svc.get("metadata", {}).get("labels", {}).get(sm.get("jobLabel"), svc.get("metadata", {}).get("name"))
    check('job="%s"' % job in open(RULES).read(), "rules select job=%r, the job the ServiceMonitor makes" % job)
    return ds


# ------------------------------------------------------------------ (d) Dockerfile

def dockerfile_stages():
    """[(name, base, [instruction lines])], continuation lines joined."""
    text = open(DOCKERFILE).read()
    text = re.sub(r"\\\n", " ", re.sub(r"(?m)^\s*#.*\n", "", text))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"(?i)FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line)
        if m:
            stages.append((m.group(2), m.group(1), []))
        elif stages:
            stages[-1][2].append(line)
    return stages


def apt_packages(lines):
    pkgs = []
    for line in lines:
        for m in re.finditer(r"apt-get\s+install\s+(.*?)(?:&&|;|$)", line):
            pkgs += [w for w in m.group(1).split() if not w.startswith("-") and "=" not in w]
    return pkgs


def dpkg_owner(path):
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        if p.startswith("/usr/lib/"):
            cands.append(p[4:])
        elif p.startswith("/lib/"):
            cands.append("/usr" + p)
    for p in cands:
        r = run(["dpkg", "-S", p])
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def installed_depends(pkg, cache):
    if pkg not in cache:
        r = run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", pkg])
        deps = set()
        for alt in r.stdout.split(","):
            for d in alt.split("|"):
                d = re.sub(r"\(.*?\)", "", d).strip().split(":")[0]
                if d:
                    deps.add(d)
        cache[pkg] = deps
    return cache[pkg]


def closure(pkgs, cache):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += installed_depends(p, cache)
    return seen


def test_dockerfile():
    stages = dockerfile_stages()
    check(len(stages) >= 2, "Dockerfile: multi-stage (%d stages)" % len(stages))
    if len(stages) < 2:
        return
    build, runtime = stages[0], stages[-1]
    check(build[1].startswith("${") or build[1].startswith("debian:12"),
          "build stage on Debian 12 (%s)" % build[1])
    args = {m.group(1): m.group(2) for line in open(DOCKERFILE) for m in
            [re.match(r"ARG\s+(\w+)=(\S+)", line.strip())] if m}
    base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), build[1])
    check(base.startswith("debian:12"), "build base resolves to %s" % base)
    check(runtime[1].startswith("debian:12"), "runtime stage on Debian 12 (%s)" % runtime[1])
    check(any(re.search(r"\bmake\b.*\bkafkatap\b", l) for l in build[2] if l.startswith("RUN")),
          "build stage runs make kafkatap")
    # Build packages: those tools/install-deps.sh installs for the build.
    deps_sh = open(os.path.join(ROOT, "tools", "install-deps.sh")).read()
    m = re.search(r"pkgs=\((.*?)\)", deps_sh, re.S)
    deps_pkgs = set(m.group(1).split()) if m else set()
    want_build = {"make", "gcc", "clang", "llvm", "bpftool", "libbpf-dev", "libelf-dev", "zlib1g-dev",
                  "libpcap-dev", "libmicrohttpd-dev", "libncurses-dev", "pkg-config"}
    check(want_build <= deps_pkgs, "the build packages are in tools/install-deps.sh",
          "not there: %s" % sorted(want_build - deps_pkgs))
    got_build = set(apt_packages(build[2]))
    check(want_build <= got_build, "build stage installs the build packages",
          "missing: %s" % sorted(want_build - got_build))
    rt = apt_packages(runtime[2])
    log("     runtime packages: %s" % " ".join(rt))
    check(rt and not [p for p in rt if p.endswith("-dev")], "runtime stage: no -dev package")
    for p in rt:
        r = run(["dpkg-query", "-W", "-f=${Status}", p])
        check("install ok installed" in r.stdout, "runtime package %s exists in Debian 12 (installed here)" % p)
    joined = " ".join(runtime[2])
    check(re.search(r'ENTRYPOINT\s+\[\s*"[^"]*kafkatap"\s*\]', joined) is not None, "ENTRYPOINT kafkatap")
    check(re.search(r'CMD\s+\[\s*"serve"\s*\]', joined) is not None, 'CMD ["serve"]')
    check(re.search(r"COPY\s+--from=%s\s+\S*kafkatap\s" % re.escape(build[0] or "0"), joined) is not None,
          "runtime copies kafkatap from the build stage")
    # Every shared object ldd lists: from a listed package, its dependencies,
    # or Debian's essential set (in every debian:12 image).
    cache = {}
    ess = run(["dpkg-query", "-W", "-f=${Package} ${Essential}\n"]).stdout.split("\n")
    essential = closure([l.split()[0] for l in ess if l.endswith(" yes")], cache)
    provided = closure(rt, cache)
    needed = set(re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", L.KAFKATAP]).stdout))
    libs = re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", L.KAFKATAP]).stdout, re.M)
    check(len(libs) >= len(needed) > 0, "ldd lists %d shared objects, %d NEEDED directly" % (len(libs), len(needed)))
    for so, path in libs:
        pkg = dpkg_owner(path)
        if so in needed:
            ok, how = pkg in rt or pkg in essential, "linked directly: listed" if pkg in rt else "linked directly: in the base image"
        else:
            ok, how = pkg in provided or pkg in essential, "comes with the runtime packages"
        check(pkg is not None and ok, "%-20s -> %-16s %s" % (so, pkg, how if ok else "NOT in the image"),
              "%s: add its package to the runtime stage of deploy/Dockerfile" % path)


# ------------------------------------------------------------------ PromQL parsing

NAME = re.compile(r"(?<![\w:])(kafkatap_[a-zA-Z0-9_]+)(?![\w:])")
SELECTOR = re.compile(r"(?<![\w:])(kafkatap_[a-zA-Z0-9_]+)\s*\{([^}]*)\}")
NAME_RE = re.compile(r'__name__\s*=~\s*"([^"]*)"')
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"')


def dashboard_exprs(dash):
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p.get("title"), t.get("refId"), t.get("expr", ""), t.get("instant", False)))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    return out


def rule_exprs():
    import yaml
    out = []
    for g in yaml.safe_load(open(RULES))["groups"]:
        for r in g["rules"]:
            out.append((r.get("record") or r.get("alert"), "record" if "record" in r else "alert", r["expr"]))
    return out


def substitute(expr, values):
    for k, v in values.items():
        expr = expr.replace("${%s}" % k, v).replace("$" + k, v)
    return expr


def test_dashboard_static(dash):
    check(30 <= dash.get("schemaVersion", 0) <= 41, "dashboard schemaVersion %s" % dash.get("schemaVersion"))
    inputs = [i.get("name") for i in dash.get("__inputs", [])]
    check("DS_PROMETHEUS" in inputs, "dashboard input DS_PROMETHEUS")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    for v in ("broker", "topic", "client_id", "group"):
        check(v in variables and variables[v].get("includeAll") and variables[v].get("allValue") == ".*",
              "template variable $%s (All = .*)" % v)
    ids, n = set(), 0

    def walk(panels):
        nonlocal n
        for p in panels:
            if p["id"] in ids:
                check(False, "panel id %s unique (%s)" % (p["id"], p.get("title")))
            ids.add(p["id"])
            if p.get("type") != "row":
                n += 1
                ok = p.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}" and all(
                    t.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}" for t in p.get("targets", []))
                if not ok or not p.get("targets"):
                    check(False, "panel %r: targets on ${DS_PROMETHEUS}" % p.get("title"))
                for t in p.get("targets", []):
                    for var in re.findall(r"\$\{?(\w+)", t.get("expr", "")):
                        if not var.startswith("__") and var not in variables:
                            check(False, "panel %r uses undefined $%s" % (p.get("title"), var))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    titles = " | ".join(p.get("title", "") for p in dash["panels"]).lower()
    for want in ("request rate", "latency p50", "latency p99", "bytes", "unanswered", "produced records",
                 "fetched records", "partition errors", "lag (records)", "lag (seconds)", "members",
                 "generation", "rebalances", "client inventory", "deprecated", "admin operations",
                 "kafkatap health", "lost events", "gaps", "resyncs", "late frames", "incomplete",
                 "malformed", "label overflow", "evictions"):
        if want not in titles:
            check(False, "dashboard has a panel or row about %r" % want)
    check(n >= 25, "dashboard: %d panels, unique ids, each on ${DS_PROMETHEUS}, every variable defined" % n)


# ------------------------------------------------------------------ (b) live

def metadata_v0(port, client_id):
    """One Metadata v0 request (deprecated: Kafka 4.0 removes v0-v3); True if answered."""
    cid = client_id.encode()
    body = struct.pack(">hhih", 3, 0, 7, len(cid)) + cid + struct.pack(">i", 0)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(struct.pack(">i", len(body)) + body)
        head = s.recv(8)
        return len(head) == 8 and struct.unpack(">i", head[4:8])[0] == 7
    finally:
        s.close()


def create_topics_v2(port, client_id, topic):
    """One CreateTopics v2 request; the answer (the mock closes instead)."""
    cid, name = client_id.encode(), topic.encode()
    body = (struct.pack(">hhih", 19, 2, 9, len(cid)) + cid + struct.pack(">i", 1) +
            struct.pack(">h", len(name)) + name + struct.pack(">ihii", 1, 1, 0, 0) +
            struct.pack(">i", 5000) + b"\x00")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(struct.pack(">i", len(body)) + body)
        return "answered" if s.recv(8) else "closed"
    except OSError as e:
        return str(e)
    finally:
        s.close()


def workload(mock, after_round):
    """Produce, consume with a known lag, admin, partition errors, a deprecated
    request; after_round(r) returns once produce round r is in Prometheus.
    Returns (consumer kept alive, truth)."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    bs = mock.bootstrap
    truth = {}
    # librdkafka's mock has no CreateTopics: a raw one (it closes the
    # connection: an admin operation, unanswered).
    truth["create_topics"] = create_topics_v2(mock.ports[0], ADMIN, ADMIN_TOPIC)
    p = Producer({"bootstrap.servers": bs, "client.id": PRODUCER, "acks": "all",
                  "linger.ms": 5, "retry.backoff.ms": 50})
    done = []

    def produce(topic, first, n):
        for i in range(first, first + n):
            p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, on_delivery=lambda e, m: done.append(e))
        p.flush(20)

    # In rounds, each scraped by Prometheus before the next starts: rate()
    # sees no increase in the first sample of a series, so a counter must
    # move between two scrapes. The two pushed errors fail the next two
    # Produce requests, those of TOPIC2 (partition errors every round).
    truth["push_errors"] = []
    for r in range(ROUNDS):
        produce(TOPIC, r * N_ORDERS // ROUNDS, N_ORDERS // ROUNDS)
        try:
            ans = mock.command("push_errors 0 NOT_LEADER_FOR_PARTITION,NOT_LEADER_FOR_PARTITION")
        except RuntimeError as e:       # the workload check below fails on it
            ans = str(e)
        truth["push_errors"].append(ans)
        produce(TOPIC2, r * N_AUDIT // ROUNDS, N_AUDIT // ROUNDS)
        after_round(r)
    truth["last_produce"] = time.time()
    truth["produced"] = sum(1 for e in done if e is None)
    truth["metadata_v0"] = metadata_v0(mock.ports[0], LEGACY)

    c = Consumer({"bootstrap.servers": bs, "client.id": CONSUMER, "group.id": GROUP,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000})
    c.subscribe([TOPIC])
    last, n, end = {}, 0, time.time() + 25
    while n < N_ORDERS and time.time() < end:
        for m in c.consume(num_messages=500, timeout=0.5):
            if m.error():
                continue
            n += 1
            last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
    truth["consumed"] = n
    # Commit LAG_PER_PARTITION short of the end of each partition.
    offs = [TopicPartition(TOPIC, p, o + 1 - LAG_PER_PARTITION) for p, o in sorted(last.items())]
    c.commit(offsets=offs, asynchronous=False)
    truth["committed"] = {tp.partition: tp.offset for tp in offs}
    truth["lag"] = LAG_PER_PARTITION * len(offs)
    return c, truth


def prom_api(base, path, params):
    url = base + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        return json.loads(P.get(url, timeout=15))
    except urllib.error.HTTPError as e:
        return json.loads(e.read().decode() or "{}") or {"status": "error", "error": str(e)}


def query(base, expr):
    """(ok, error, [(labels, value)])"""
    r = prom_api(base, "/api/v1/query", {"query": expr})
    if r.get("status") != "success":
        return False, r.get("error", "?"), []
    d = r["data"]
    if d["resultType"] == "vector":
        return True, "", [(x["metric"], float(x["value"][1])) for x in d["result"]]
    if d["resultType"] == "scalar":
        return True, "", [({}, float(d["result"][1]))]
    return True, "", []


def scalar(base, expr):
    """The value of a query that returns one series, else None."""
    ok, _, rows = query(base, expr)
    return rows[0][1] if ok and len(rows) == 1 else None


def newer_samples(base, series, since):
    """Timestamps of the samples of `series` that Prometheus holds, after `since`."""
    r = prom_api(base, "/api/v1/query", {"query": "%s[5m]" % series})
    res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
    return sorted(float(t) for x in res for t, _ in x.get("values", []) if float(t) > since)


def rfc3339(text):
    """Unix seconds of an RFC 3339 time as Prometheus' API writes it (ns, any offset)."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|([+-])(\d\d):(\d\d))$", text or "")
    if not m:
        return 0.0
    t = calendar.timegm(tuple(int(x) for x in m.group(1, 2, 3, 4, 5, 6)) + (0, 0, 0)) + float(m.group(7) or 0)
    if m.group(9):
        t -= (1 if m.group(9) == "+" else -1) * (int(m.group(10)) * 3600 + int(m.group(11)) * 60)
    return t


def poll(pred, timeout=PROM_TIMEOUT):
    """Call pred() until it is true: True, or False after timeout seconds."""
    end = time.time() + timeout
    while not pred():
        if time.time() >= end:
            return False
        time.sleep(0.1)
    return True


def exposition(text):
    """{family: type}, {sample name: family}, {family: set(label names)}"""
    types, samples, labels = {}, {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
    for fam, t in types.items():
        names = [fam] + ([fam + s for s in ("_bucket", "_count", "_sum")] if t in ("histogram", "summary") else [])
        for n in names:
            samples[n] = fam
    for (name, lbls) in P.parse(text):
        fam = samples.get(name)
        if fam:
            labels.setdefault(fam, set()).update(k for k, _ in lbls)
    return types, samples, labels


def names(expr):
    """kafkatap metric names an expression uses (outside __name__ regexes)."""
    return NAME.findall(NAME_RE.sub("", expr))


def split_alternatives(rx):
    """Top-level alternatives of a regex: 'a_(b|c)|d' -> ['a_(b|c)', 'd']."""
    out, depth, cur = [], 0, ""
    for ch in rx:
        if ch == "|" and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    return out + [cur]


def promql_regex(v):
    """A literal value as a PromQL regex string body (as Grafana formats it)."""
    return re.escape(v).replace("\\", "\\\\")


def check_names(where, expr, samples, labels):
    """Every kafkatap metric an expression names is exposed; every label it
    filters a kafkatap selector on is one of the family's labels."""
    errs = []
    for n in names(expr):
        if n not in samples:
            errs.append("%s: %s is not a metric kafkatap exposes" % (where, n))
    for rx in NAME_RE.findall(expr):
        for alt in split_alternatives(rx):
            if not any(re.fullmatch(alt, s) for s in samples):
                errs.append("%s: __name__=~ alternative %r matches no metric kafkatap exposes" % (where, alt))
    for name, body in SELECTOR.findall(expr):
        fam = samples.get(name)
        if fam not in labels:
            continue
        allowed = labels[fam] | {"instance", "job", "le"}
        for lbl, _ in MATCHER.findall(body):
            if lbl not in allowed:
                errs.append("%s: %s has no label %r (its labels: %s)" % (where, name, lbl, sorted(labels[fam])))
    return errs


def finite(rows):
    return [v for _, v in rows if v == v and abs(v) != float("inf")]


def test_live(ds):
    env = L.Env()
    tmp = tempfile.mkdtemp(prefix="kafkatap-deploy-")
    consumer = None
    try:
        t0 = time.time()
        mock = L.Mock(env, "deploy", 3, [(TOPIC, PARTITIONS), (TOPIC2, PARTITIONS)], commands=True)
        # kafkatap with the DaemonSet's args (the test adds where: lo, the
        # mock's ports, a free listen address) and nothing but its capabilities.
        c = ds["spec"]["template"]["spec"]["containers"][0]
        caps = ",".join("+" + x.lower() for x in c["securityContext"]["capabilities"]["add"])
        kt, mbase, kt_err = L.start_serve(
            env, mock.ports, args=c["args"], tag="deploy.kafkatap",
            prefix=["prlimit", "--memlock=65536:65536", "setpriv", "--bounding-set=-all," + caps,
                    "--inh-caps=-all", "--"])
        log("     " + " ".join(kt.args))
        check(True, "kafkatap %s runs with only %s, RLIMIT_MEMLOCK 64 KiB: /healthz ok" %
              (" ".join(c["args"]), caps))

        inst = urllib.parse.urlsplit(mbase).netloc
        _, pbase = L.start_prometheus(env, tmp, inst, rule_files=[RULES], tag="deploy.prometheus")

        # Service discovery hands Prometheus its targets after up to 5 s:
        # wait for the first scrape before the traffic starts.
        L.wait_for(lambda: query(pbase, 'up{job="kafkatap"} == 1')[2], "Prometheus to scrape kafkatap", PROM_TIMEOUT)

        # Each produce round waits for Prometheus to have scraped all of it:
        # every record of the rounds so far, and more partition errors of
        # TOPIC2 than after the round before (they precede its records).
        produced_q = 'sum(kafkatap_produced_records_total{topic="%s"})'
        errors_q = 'sum(kafkatap_partition_errors_total{topic="%s"})' % TOPIC2
        rounds_seen = []        # (TOPIC records, TOPIC2 records, TOPIC2 partition errors)

        def after_round(r):
            if len(rounds_seen) < r:
                return          # an earlier round never showed: failed already
            want = ((r + 1) * N_ORDERS // ROUNDS, (r + 1) * N_AUDIT // ROUNDS)
            before = rounds_seen[-1][2] if rounds_seen else 0
            got, t = [], time.time()

            def seen():
                got[:] = [scalar(pbase, produced_q % TOPIC), scalar(pbase, produced_q % TOPIC2),
                          scalar(pbase, errors_q)]
                return tuple(got[:2]) == want and got[2] is not None and got[2] > before
            if poll(seen):
                rounds_seen.append(tuple(got))
                log("     produce round %d scraped by Prometheus after %.1fs: %s %d, %s %d records, "
                    "%s partition errors %d" % (r, time.time() - t, TOPIC, got[0], TOPIC2, got[1],
                                                TOPIC2, got[2]))
            else:
                check(False, "Prometheus shows produce round %d within %ds: %s %s, %s %s records "
                      "(want %d, %d), %s partition errors %s (want > %d)" % (
                          r, PROM_TIMEOUT, TOPIC, got[0], TOPIC2, got[1], want[0], want[1],
                          TOPIC2, got[2], before))
        consumer, truth = workload(mock, after_round)
        log("     setup + workload %.1fs: %s" % (time.time() - t0, json.dumps(truth, sort_keys=True)))
        check(truth["produced"] == N_ORDERS + N_AUDIT and truth["consumed"] == N_ORDERS
              and set(truth["push_errors"]) == {"OK"} and truth["metadata_v0"],
              "workload: %d produced, %d consumed, errors pushed, Metadata v0 answered" % (
                  truth["produced"], truth["consumed"]))

        # Prometheus has scraped the final state, and evaluated the rules on it.
        lag_q = 'max by (group, topic) (kafkatap_consumer_group_lag_records{group="%s"})' % GROUP

        def settled():
            ok, _, rows = query(pbase, lag_q)
            ok2, _, rows2 = query(pbase, 'group_topic:kafkatap_consumer_group_lag_records:max{group="%s"}' % GROUP)
            return rows and rows[0][1] == truth["lag"] and rows2
        try:
            L.wait_for(settled, "Prometheus to scrape the lag of %s (%d)" % (GROUP, truth["lag"]), PROM_TIMEOUT)
        except RuntimeError as e:
            check(False, str(e), "got %s" % (query(pbase, lag_q),))
        # Two more scrapes: every series kafkatap has now has two samples
        # (rate() needs them); then a rule evaluation of every group after them.
        up_q = 'up{job="kafkatap"}'
        ts0 = scalar(pbase, "timestamp(%s)" % up_q) or time.time()
        newer = []

        def two_newer():
            newer[:] = newer_samples(pbase, up_q, ts0)
            return len(newer) >= 2
        if not poll(two_newer):
            check(False, "Prometheus scrapes kafkatap twice more within %ds (%d samples after %.3f)" % (
                PROM_TIMEOUT, len(newer), ts0))
        seen_at = time.time()
        evals = []

        def evaluated():
            groups = prom_api(pbase, "/api/v1/rules", {}).get("data", {}).get("groups", [])
            evals[:] = [(g.get("name"), g.get("lastEvaluation")) for g in groups]
            return bool(groups) and all(rfc3339(e) > seen_at for _, e in evals)
        if not poll(evaluated):
            check(False, "Prometheus evaluates every rule group after those scrapes within %ds" %
                  PROM_TIMEOUT, str(evals))
        log("     dashboard and rule queries start %.1fs after the last produce round "
            "(rate() windows: 1m on the dashboard, 5m in the rules)" % (time.time() - truth["last_produce"]))

        scrape = P.get(mbase + "/metrics")
        with open(os.path.join(L.OUT, "deploy.metrics.txt"), "w") as f:
            f.write(scrape)
        types, samples, labels = exposition(scrape)
        check(len(types) >= 30, "scrape: %d metric families, %d with series" % (len(types), len(labels)))

        dash = json.load(open(DASHBOARD))
        test_dashboard_static(dash)

        # Concrete values from what kafkatap saw.
        _, _, rows = query(pbase, 'kafkatap_requests_total{api="Produce", client_id="%s"}' % PRODUCER)
        broker = rows[0][0]["broker"] if rows else "none"
        all_values = {"instance": ".*", "broker": ".*", "topic": ".*", "client_id": ".*", "group": ".*",
                      "__rate_interval": "1m", "__interval": "1s", "__range": "5m",
                      "DS_PROMETHEUS": "prometheus"}
        concrete = dict(all_values, instance=promql_regex(inst), broker=promql_regex(broker), topic=TOPIC,
                        client_id=PRODUCER, group=GROUP)
        name_errors = []
        nq = 0
        results = {}
        for title, ref, expr, _inst in dashboard_exprs(dash):
            name_errors += check_names("panel %r" % title, expr, samples, labels)
            for tag, vals in (("all", all_values), ("concrete", concrete)):
                ok, err, rows = query(pbase, substitute(expr, vals))
                nq += 1
                results[(title, ref, tag)] = rows
                if not ok:
                    check(False, "panel %r %s (%s): %s" % (title, ref, tag, err), substitute(expr, vals))
            fams = {samples[n] for n in names(expr) if n in samples}
            if fams and all(f in labels for f in fams) and not results[(title, ref, "all")]:
                check(False, "panel %r %s: empty although kafkatap exports %s" % (title, ref, sorted(fams)),
                      substitute(expr, all_values))
        check(nq > 0 and not [f for f in failures if f.startswith("panel ")],
              "%d dashboard queries (template variables .* and concrete) run on Prometheus, "
              "and every one whose families have series returns some" % nq)

        def panel(title, tag="all"):
            for (t, _r, g), rows in results.items():
                if t == title and g == tag:
                    return rows
            return None

        for tag in ("all", "concrete"):
            rows = panel("Request rate by API", tag)
            check(rows and any(r[0].get("api") == "Produce" and r[1] > 0 for r in rows),
                  "core [%s]: request rate by API has Produce > 0 (%d series)" % (tag, len(rows or [])), str(rows))
            for q in ("p50", "p99"):
                rows = panel("Latency %s by API and broker" % q, tag)
                check(rows and finite(rows) and max(finite(rows)) > 0,
                      "core [%s]: latency %s by API and broker: %d series, finite values" % (tag, q, len(rows or [])),
                      str(rows))
            rows = panel("Produced records/s by topic", tag)
            check(rows and any(r[0].get("topic") == TOPIC and r[1] > 0 for r in rows),
                  "core [%s]: produced records/s by topic has %s" % (tag, TOPIC), str(rows))
            rows = panel("Group members", tag)
            check(rows and any(r[0].get("group") == GROUP and r[1] == 1 for r in rows),
                  "core [%s]: group members of %s = 1" % (tag, GROUP), str(rows))
            rows = panel("Consumer group lag (records)", tag)
            got = [r[1] for r in rows or [] if r[0].get("group") == GROUP and r[0].get("topic") == TOPIC]
            check(got == [truth["lag"]], "[%s]: lag of %s on %s = %s, committed %d short of the end" % (
                tag, GROUP, TOPIC, got, truth["lag"]))
        _, _, rows = query(pbase, 'sum(kafkatap_produced_records_total{topic="%s"})' % TOPIC)
        check(rows and rows[0][1] == N_ORDERS, "kafkatap_produced_records_total{topic=%s} = %s, produced %d" % (
            TOPIC, rows and rows[0][1], N_ORDERS))
        for title, want in (("Client inventory", None), ("Partition errors by error", TOPIC2),
                            ("Admin operations (since kafkatap started)", None)):
            rows = panel(title)
            check(bool(rows) and (want is None or any(r[0].get("topic") == want for r in rows)),
                  "panel %r non-empty%s" % (title, " (topic %s)" % want if want else ""), str(rows))
        rows = panel("Deprecated requests (since kafkatap started)") or []
        check(any(r[0].get("client_id") == LEGACY and r[0].get("api") == "Metadata" for r in rows),
              "panel 'Deprecated requests' lists %s Metadata v0" % LEGACY, str(rows))

        # Template variable queries: label_values(SELECTOR, LABEL).
        for v in dash["templating"]["list"]:
            if v.get("type") != "query":
                continue
            m = re.match(r"label_values\((.*),\s*(\w+)\)\s*$", v["query"], re.S)
            if not check(m is not None, "variable $%s: label_values(...)" % v["name"]):
                continue
            sel = substitute(m.group(1), all_values)
            name_errors += check_names("variable $%s" % v["name"], sel, samples, labels)
            r = prom_api(pbase, "/api/v1/series", {"match[]": sel})
            vals = sorted({s.get(m.group(2)) for s in r.get("data", []) if s.get(m.group(2)) is not None})
            check(r.get("status") == "success" and vals,
                  "variable $%s: %d values (%s)" % (v["name"], len(vals), ", ".join(vals[:4])), json.dumps(r)[:300])

        # Rules: every expression runs; Prometheus evaluated them all cleanly.
        for name, kind, expr in rule_exprs():
            name_errors += check_names("rule %s" % name, expr, samples, labels)
            ok, err, rows = query(pbase, expr)
            check(ok, "rule %s: expression runs (%d series now)" % (name, len(rows)), err)
        for rec in ("api_broker:kafkatap_requests:rate5m", "api_broker:kafkatap_request_duration_seconds:p99_rate5m",
                    "topic:kafkatap_produced_records:rate5m", "instance:kafkatap_lost_events:rate5m"):
            ok, err, rows = query(pbase, rec)
            check(ok and rows, "recorded by Prometheus: %s (%d series)" % (rec, len(rows)))
        r = prom_api(pbase, "/api/v1/rules", {})
        bad = [(ru.get("name"), ru.get("lastError")) for g in r.get("data", {}).get("groups", [])
               for ru in g.get("rules", []) if ru.get("health") != "ok"]
        n_rules = sum(len(g.get("rules", [])) for g in r.get("data", {}).get("groups", []))
        check(n_rules == len(rule_exprs()) and not bad,
              "Prometheus loaded %d rules, all evaluated healthy" % n_rules, str(bad))
        r = prom_api(pbase, "/api/v1/alerts", {})
        alerts = r.get("data", {}).get("alerts", [])
        pe = [a for a in alerts if a["labels"].get("alertname") == "KafkaPartitionErrors"
              and a["labels"].get("topic") == TOPIC2]
        check(pe and pe[0]["state"] in ("pending", "firing"),
              "alert KafkaPartitionErrors{topic=%s} is %s on real traffic" % (
                  TOPIC2, pe[0]["state"] if pe else "absent"),
              json.dumps([a["labels"] for a in alerts]))
        for a in alerts:
            log("     alert %s %s" % (a["state"], json.dumps(a["labels"], sort_keys=True)))
        for e in sorted(set(name_errors)):
            check(False, e)
        check(not name_errors, "every metric name in dashboard and rules is a family kafkatap exposes "
              "(%d referenced), every label filtered on is its own" %
              len({n for _, _, e, _ in dashboard_exprs(dash) for n in names(e)} |
                  {n for _, _, e in rule_exprs() for n in names(e)}))
        consumer.close()
        consumer = None
        rc = env.stop(kt, sig=signal.SIGTERM)
        check(rc == 0, "kafkatap serve exits 0 on SIGTERM, as from the kubelet (%s)" % rc,
              open(kt_err).read()[-2000:])
        log("     live part: %.1fs" % (time.time() - t0))
    finally:
        if consumer is not None:
            try:
                consumer.close()
            except Exception:  # noqa: BLE001
                pass
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    os.makedirs(L.OUT, exist_ok=True)
    prerequisites()
    t0 = time.time()
    log("== rules (promtool)")
    test_rules()
    log("== YAML, DaemonSet vs kafkatap serve --help")
    ds = test_yaml()
    log("== Dockerfile vs ldd kafkatap")
    test_dockerfile()
    log("== live: kafkatap serve + Prometheus + dashboard and rule queries")
    try:
        test_live(ds)
    except Exception as e:  # noqa: BLE001 - a failed run, said clearly
        check(False, "live part: %s: %s" % (type(e).__name__, e))
    log("%d failures in %.1fs" % (len(failures), time.time() - t0))
    for f in failures:
        log("  FAILED: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
