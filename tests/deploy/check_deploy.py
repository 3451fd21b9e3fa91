#!/usr/bin/env python3
"""Checks the deployment files in deploy/ against the real binary, as far as this machine allows.

  check_deploy.py files   --source DIR --dispatcher BIN   parse, structure, keys, version pin
  check_deploy.py systemd --source DIR --prefix DIR       the installed unit: systemd-analyze
                                                          verify, hardening, its config file
  check_deploy.py probes  --source DIR --dispatcher BIN   run the dispatcher with each deploy
                                                          file's settings against a real
                                                          redis-server and `dev-broker`, and
                                                          hit every probe and healthcheck

Exit 0 when every check passes, 1 with the failures listed, 77 when a tool it needs is missing
(systemd-analyze), which ctest reports as skipped.
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

try:
    import yaml
except ImportError:
    sys.exit("check_deploy.py needs PyYAML: apt-get install python3-yaml")

FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
    return ok


def done():
    for f in FAILURES:
        print("FAIL: " + f)
    print("%d failure(s)" % len(FAILURES) if FAILURES else "all deploy checks passed")
    return 1 if FAILURES else 0


# --- what the binary says ---------------------------------------------------------------------

def help_keys(dispatcher):
    """The keys `run --help` lists (the first column of its table)."""
    out = subprocess.run([dispatcher, "run", "--help"], capture_output=True, text=True, check=True).stdout
    keys, table = set(), False
    for line in out.splitlines():
        cols = line.split()
        if cols[:3] == ["key", "default", "meaning"]:
            table = True
        elif table and cols:
            keys.add(cols[0])
    return keys


def env_name(key):
    return "TRESSE_" + key.upper().replace(".", "_")


def key_of_variable(name, keys):
    """The key TRESSE_<NAME> sets, or None."""
    for k in keys:
        if "<" in k:
            prefix = env_name(k.split("<")[0])
            if name.startswith(prefix) and len(name) > len(prefix):
                return k
        elif env_name(k) == name:
            return k
    return None


def known_key(key, keys):
    if key in keys:
        return True
    return any("<" in k and key.startswith(k.split("<")[0]) and len(key) > len(k.split("<")[0])
               for k in keys)


def conf_keys(text, commented_too=True):
    """Keys of `key = value` lines; commented-out ones (`#key = value`) too: they are examples."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            if not commented_too:
                continue
            s = s.lstrip("#").strip()
            if not re.match(r"^[a-z_]+(\.[a-z_.]+)+\s*=", s):
                continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*=", s)
        if m:
            out.append(m.group(1))
    return out


def conf_values(text):
    out = {}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or "=" not in s:
            continue
        k, v = s.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def version(dispatcher):
    out = subprocess.run([dispatcher, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def load(source, *path):
    with open(os.path.join(source, *path)) as f:
        return f.read()


def kube_docs(source):
    return {d["kind"]: d for d in yaml.safe_load_all(load(source, "deploy/kubernetes/dispatcher.yaml")) if d}


def containerfile_healthcheck(text):
    m = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*?\])\s*$", text, re.M | re.S)
    return json.loads(m.group(1)) if m else None


# --- files ------------------------------------------------------------------------------------

def check_redis_example(source, dispatcher, name, scheme, kinds):
    """deploy/kubernetes/redis-<name>.yaml: its documents and its redis.conf."""
    text = load(source, "deploy/kubernetes/redis-%s.yaml" % name)
    docs = [d for d in yaml.safe_load_all(text) if d]
    found = {d["kind"] for d in docs}
    check(kinds <= found, "kubernetes %s: kinds %r" % (name, sorted(found)))
    conf = next((d for d in docs if d["kind"] == "ConfigMap"), {}).get("data", {}).get("redis.conf", "")
    check("maxmemory-policy noeviction" in conf, "kubernetes %s: Redis may evict keys" % name)
    m = re.search(r"redis\.url = (%s://\S+)" % re.escape(scheme), text)
    check(m is not None, "kubernetes %s: no %s:// URL documented" % (name, scheme))
    if m:
        r = subprocess.run([dispatcher, "run", "--check", "--set", "kafka.brokers=embedded", "--set",
                            "redis.url=" + m.group(1)], capture_output=True, text=True, timeout=120)
        check(r.returncode in (0, 1) and "redis.url:" not in r.stdout,
              "kubernetes %s: %s is refused: %s%s" % (name, m.group(1), r.stdout, r.stderr))
    return docs, conf


def check_files(source, dispatcher):
    keys = help_keys(dispatcher)
    check(len(keys) > 20, "run --help lists no key table")
    ver = version(dispatcher)

    # Compose.
    compose = yaml.safe_load(load(source, "deploy/compose/compose.yaml"))
    services = compose.get("services", {})
    kafka = services.get("kafka", {})
    image, _, tag = kafka.get("image", "").partition(":")
    check(image == "apache/kafka", "compose: Kafka image is %r, not apache/kafka" % image)
    check(tuple(int(x) for x in re.findall(r"\d+", tag)[:2]) >= (3, 7), "compose: apache/kafka tag %r < 3.7" % tag)
    kenv = kafka.get("environment", {})
    check(not any(k.startswith("KAFKA_CFG_") for k in kenv), "compose: bitnami-style KAFKA_CFG_ variables")
    for k in ("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS",
              "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_LISTENER_NAMES"):
        check(k in kenv, "compose: Kafka (KRaft) lacks %s" % k)
    d = services.get("dispatcher", {})
    denv = d.get("environment", {})
    for name in denv:
        check(key_of_variable(name, keys) is not None, "compose: %s is no configuration key in run --help" % name)
    check("TRESSE_KAFKA_BROKERS" in denv, "compose: kafka.brokers not set")
    check("TRESSE_API_LISTEN" in denv, "compose: api.listen not set")
    check("TRESSE_REGISTRY_ENCRYPTION_KEY" in denv and "openssl rand" in str(denv.get("TRESSE_REGISTRY_ENCRYPTION_KEY")),
          "compose: no encryption key, or no word on how to make one")
    published = {str(p).rsplit(":", 1)[-1] for p in d.get("ports", [])}
    for var in ("TRESSE_ADMIN_LISTEN", "TRESSE_API_LISTEN"):
        port = str(denv.get(var, "")).rsplit(":", 1)[-1]
        check(port in published, "compose: %s port %s is not published" % (var, port))
    test = d.get("healthcheck", {}).get("test", [])
    check(isinstance(test, list) and test[:1] == ["CMD"] and test[1:3] == ["tresse-dispatcher", "healthcheck"],
          "compose: the dispatcher's healthcheck is not `tresse-dispatcher healthcheck` (exec form): %r" % test)
    check("/dev/tcp" not in json.dumps(compose) and "curl" not in json.dumps(d),
          "compose: a healthcheck needs /dev/tcp or curl, which debian:12-slim lacks")
    check(d.get("image", "").endswith(":" + ver), "compose: dispatcher image not pinned to %s" % ver)
    # The Compose schema, where Debian's docker-compose is installed (it needs no daemon): valid
    # with the key set, refused without it.
    compose_cli = shutil.which("docker-compose")
    if compose_cli:
        path = os.path.join(source, "deploy/compose/compose.yaml")
        env = dict(os.environ, TRESSE_REGISTRY_ENCRYPTION_KEY=base64.b64encode(os.urandom(32)).decode())
        r = subprocess.run([compose_cli, "-f", path, "config", "-q"], env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "docker-compose config: " + r.stdout + r.stderr)
        env.pop("TRESSE_REGISTRY_ENCRYPTION_KEY")
        r = subprocess.run([compose_cli, "-f", path, "config", "-q"], env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and "openssl rand" in r.stderr,
              "docker-compose config without TRESSE_REGISTRY_ENCRYPTION_KEY did not refuse, saying how to make it")
    else:
        print("note: docker-compose not installed; the compose file was checked as YAML only")

    # Kubernetes.
    docs = kube_docs(source)
    for kind in ("ConfigMap", "Deployment", "Service", "PodDisruptionBudget"):
        check(kind in docs, "kubernetes: no %s" % kind)
    conf = docs.get("ConfigMap", {}).get("data", {}).get("dispatcher.conf", "")
    for k in conf_keys(conf):
        check(known_key(k, keys), "kubernetes ConfigMap: %s is no key in run --help" % k)
    values = conf_values(conf)
    check(values.get("kafka.brokers", "") not in ("", "embedded"), "kubernetes: kafka.brokers not set to a cluster")
    dep = docs.get("Deployment", {})
    pod = dep.get("spec", {}).get("template", {}).get("spec", {})
    check(pod.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "kubernetes: no seccompProfile RuntimeDefault")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "kubernetes: runAsNonRoot not set")
    c = (pod.get("containers") or [{}])[0]
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "kubernetes: no readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, "kubernetes: privilege escalation allowed")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "kubernetes: capabilities not dropped")
    res = c.get("resources", {})
    check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory") and res.get("limits", {}).get("memory"),
          "kubernetes: resources incomplete")
    check(c.get("image", "").endswith(":" + ver), "kubernetes: image %r not pinned to %s" % (c.get("image"), ver))
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    # What the container runs with: the Deployment's env over the ConfigMap's file over the
    # image's ENV (the dispatcher's own precedence: file < environment).
    image_env = dict(re.findall(r"^ENV\s+(TRESSE_[A-Z_]+)=(\S+)", load(source, "deploy/container/Containerfile"), re.M))
    pod_env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}

    def effective(key):
        var = env_name(key)
        return pod_env.get(var) or image_env.get(var) if (var in pod_env or var in image_env) else values.get(key)
    check(ports.get("admin") == int((effective("admin.listen") or ":0").rsplit(":", 1)[1]),
          "kubernetes: the admin containerPort is not the port admin.listen gets")
    check(ports.get("api") == int((effective("api.listen") or ":0").rsplit(":", 1)[1]),
          "kubernetes: the api containerPort is not the port api.listen gets")
    for key in ("admin.listen", "api.listen"):
        var = env_name(key)
        check(not (key in values and (var in pod_env or var in image_env)),
              "kubernetes: %s is in the ConfigMap but %s (the Deployment's or the image's) overrides it" % (key, var))
    check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "kubernetes: liveness is not /healthz")
    check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "kubernetes: readiness is not /readyz")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe in c:
            check(c[probe]["httpGet"]["port"] in ports, "kubernetes: %s names port %r, not a container port" % (probe, c[probe]["httpGet"]["port"]))
    for e in c.get("env", []):
        check(key_of_variable(e["name"], keys) is not None, "kubernetes: %s is no configuration key" % e["name"])
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            header = load(source, "deploy/kubernetes/dispatcher.yaml")
            defined = docs.get("Secret", {}).get("metadata", {}).get("name") == ref["name"]
            documented = re.search(r"kubectl create secret generic %s\b" % re.escape(ref["name"]), header) and \
                ("--from-literal=%s=" % ref["key"]) in header
            check(defined or documented or ref.get("optional"),
                  "kubernetes: Secret %s/%s is neither defined nor its kubectl line documented" % (ref["name"], ref["key"]))
    svc_ports = docs.get("Service", {}).get("spec", {}).get("ports", [])
    check({p.get("targetPort") for p in svc_ports} >= {"api", "admin"}, "kubernetes: the Service lacks the api or admin port")
    for p in svc_ports:
        check(p.get("targetPort") in ports, "kubernetes: Service targetPort %r is no container port" % p.get("targetPort"))
    labels = pod and dep["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        sel = docs.get(kind, {}).get("spec", {}).get("selector", {})
        sel = sel.get("matchLabels", sel)
        check(sel and all(labels.get(k) == v for k, v in sel.items()), "kubernetes: the %s selects no pod" % kind)

    # The Sentinel and Cluster examples: each parses, its Redis cannot evict, and the URL it
    # documents is one the dispatcher accepts (run --check parses redis.url before it connects).
    sdocs, sconf = check_redis_example(source, dispatcher, "sentinel", "redis+sentinel",
                                       {"ConfigMap", "StatefulSet", "Service", "PodDisruptionBudget"})
    services = {d["metadata"]["name"]: d for d in sdocs if d["kind"] == "Service"}
    check(any(p.get("port") == 26379 for p in services.get("redis-sentinel", {}).get("spec", {}).get("ports", [])),
          "kubernetes sentinel: no redis-sentinel Service on 26379")
    _, cconf = check_redis_example(source, dispatcher, "cluster", "redis+cluster",
                                   {"ConfigMap", "StatefulSet", "Service", "Job", "PodDisruptionBudget"})
    check("cluster-enabled yes" in cconf, "kubernetes cluster: Redis is not in cluster mode")

    # Containerfile and its ignore file.
    cf = load(source, "deploy/container/Containerfile")
    check(not re.search(r"^(ENV|ARG)\b.*LD_LIBRARY_PATH", cf, re.M), "Containerfile: sets LD_LIBRARY_PATH")
    users = re.findall(r"^USER\s+(\S+)", cf, re.M)
    check(users and users[-1].split(":")[0] not in ("0", "root"), "Containerfile: runs as root")
    hc = containerfile_healthcheck(cf)
    check(hc and hc[:2] == ["tresse-dispatcher", "healthcheck"], "Containerfile: no HEALTHCHECK by tresse-dispatcher healthcheck")
    for name in re.findall(r"^ENV\s+(TRESSE_[A-Z_]+)=", cf, re.M):
        check(key_of_variable(name, keys) is not None, "Containerfile: %s is no configuration key" % name)
    ignore = os.path.join(source, ".dockerignore")
    check(os.path.exists(ignore), "no .dockerignore beside the build context")
    if os.path.exists(ignore):
        entries = {l.strip() for l in open(ignore) if l.strip() and not l.startswith("#")}
        check({"build", ".git"} <= entries and any("node_modules" in e for e in entries),
              ".dockerignore lets build/, .git or node_modules into the context")
    # The image's build stage has every library the programs build with (scripts/lib.sh names
    # them for this machine; the test-only ones aside) and help2man for the man pages it
    # installs: a new build dependency must reach the image too.
    packages = load(source, "scripts/lib.sh").split("TRESSE_PACKAGES=(", 1)[1].split("\n)", 1)[0]
    packages = re.sub(r"#.*", "", packages)
    test_only = {"libgtest-dev", "libgmock-dev", "libbenchmark-dev", "libclang-rt-14-dev"}
    stages = re.split(r"^FROM\s", cf, flags=re.M)
    build_stage = stages[1] if len(stages) > 2 else ""
    stage_packages = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", build_stage))
    for name in sorted(set(re.findall(r"\blib[a-z0-9.+-]+-dev\b", packages)) - test_only | {"help2man"}):
        check(name in stage_packages, "Containerfile: the build stage does not install %s" % name)

    # The sample config and the unit template.
    sample = load(source, "deploy/systemd/dispatcher.conf")
    for k in conf_keys(sample):
        check(known_key(k, keys), "dispatcher.conf sample: %s is no key in run --help" % k)
    for name in re.findall(r"^#?\s*(TRESSE_[A-Z_]+)=", load(source, "deploy/systemd/dispatcher.env"), re.M):
        check(key_of_variable(name, keys) is not None, "dispatcher.env sample: %s is no configuration key" % name)
    return done()


# --- systemd ----------------------------------------------------------------------------------

REQUIRED_UNIT_LINES = [
    "Type=exec", "RestartPreventExitStatus=2", "SystemCallFilter=@system-service", "ProtectClock=yes",
    "ProtectKernelLogs=yes", "ProtectHostname=yes", "ProtectProc=invisible", "RestrictRealtime=yes",
    "UMask=0077", "NoNewPrivileges=yes", "ProtectSystem=strict",
]


def check_systemd(source, prefix):
    prefix = os.path.abspath(prefix)
    unit = os.path.join(prefix, "lib/systemd/system/tresse-dispatcher.service")
    if not check(os.path.exists(unit), "not installed: %s" % unit):
        return done()
    text = open(unit).read()
    lines = {l.strip() for l in text.splitlines()}
    for l in REQUIRED_UNIT_LINES:
        check(l in lines, "unit: no %s" % l)
    exec_start = re.search(r"^ExecStart=(\S+) run --config (\S+)$", text, re.M)
    if check(exec_start, "unit: ExecStart is not `<bin> run --config <file>`"):
        binary, conf = exec_start.groups()
        check(binary == os.path.join(prefix, "bin/tresse-dispatcher") and os.access(binary, os.X_OK),
              "unit: ExecStart %s is not the installed binary" % binary)
        check(conf == os.path.join(prefix, "etc/tresse/dispatcher.conf") and os.path.exists(conf),
              "unit: --config %s was not installed" % conf)
        if os.path.exists(conf):
            keys = help_keys(binary)
            for k in conf_keys(open(conf).read()):
                check(known_key(k, keys), "installed dispatcher.conf: %s is no key" % k)
            # Without kafka.brokers (commented out in the sample) the start is refused with exit 2,
            # which RestartPreventExitStatus=2 keeps from looping.
            r = subprocess.run([binary, "run", "--config", conf], capture_output=True, text=True, timeout=30,
                               env={"PATH": os.environ.get("PATH", "")})
            check(r.returncode == 2 and "kafka.brokers is not set" in r.stderr,
                  "the sample config's start is not refused with exit 2 (got %d: %s)" % (r.returncode, r.stderr[-300:]))
    env_file = os.path.join(prefix, "etc/tresse/dispatcher.env")
    check(os.path.exists(env_file) and (os.stat(env_file).st_mode & 0o077) == 0,
          "dispatcher.env not installed with mode 0600")
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP: systemd-analyze is not installed; the unit was not verified")
        return 77 if not FAILURES else done()
    r = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
          "systemd-analyze verify (exit %d): %s%s" % (r.returncode, r.stdout, r.stderr))
    return done()


# --- probes against the real binary -----------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Stack:
    """A redis-server (AOF, noeviction) and `tresse-dispatcher dev-broker`, in a temp dir."""

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        self.dir = tempfile.mkdtemp(prefix="tresse-deploy-")
        self.procs = []
        port = free_port()
        self.procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--logfile", os.path.join(self.dir, "redis.log")]))
        self.redis = "redis://127.0.0.1:%d/0" % port
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0,
                 what="redis-server")
        bootstrap = os.path.join(self.dir, "bootstrap")
        self.procs.append(subprocess.Popen([dispatcher, "dev-broker", "--bootstrap-file", bootstrap],
                                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "broker.log"), "w")))
        wait_for(lambda: os.path.exists(bootstrap) and os.path.getsize(bootstrap) > 0, what="dev-broker")
        self.brokers = open(bootstrap).read().strip()

    def dispatcher_run(self, name, args, env):
        log = os.path.join(self.dir, name + ".log")
        p = subprocess.Popen([self.dispatcher, "run"] + args, env=env, stdout=subprocess.DEVNULL,
                             stderr=open(log, "w"))
        self.procs.append(p)

        def admin_port():
            if p.poll() is not None:
                raise RuntimeError("%s exited with %d:\n%s" % (name, p.returncode, open(log).read()[-2000:]))
            for line in open(log):
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("msg") == "dispatcher running":
                    return int(j["admin"].rsplit(":", 1)[1])
            return None
        return p, wait_for(admin_port, 60, name + " to start")

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def base_env():
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TRESSE_REGISTRY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode()}


def local(stack):
    """Overrides pointing a deployment's settings at this machine's stack, ports picked by the OS."""
    return ["--set", "kafka.brokers=" + stack.brokers, "--set", "redis.url=" + stack.redis,
            "--set", "admin.listen=127.0.0.1:0", "--set", "api.listen=127.0.0.1:0"]


def check_probes(source, dispatcher):
    stack = Stack(dispatcher)
    try:
        # Kubernetes: the ConfigMap's file, the Deployment's env; every probe path answered 200 on
        # the admin listener (the port the probes name, see `files`).
        docs = kube_docs(source)
        conf = os.path.join(stack.dir, "k8s.conf")
        with open(conf, "w") as f:
            f.write(docs["ConfigMap"]["data"]["dispatcher.conf"])
        c = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
        env = base_env()
        env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
        args = [a for a in c["args"] if a != "run"]
        args = [os.path.join(stack.dir, "k8s.conf") if a == "/etc/tresse/dispatcher.conf" else a for a in args]
        r = subprocess.run([dispatcher, "run", "--check"] + args + local(stack), env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "kubernetes config: run --check failed:\n" + r.stdout + r.stderr)
        p, admin = stack.dispatcher_run("k8s", args + local(stack), env)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in c:
                path = c[probe]["httpGet"]["path"]
                status, body = wait_for(lambda: (lambda s: s if s[0] == 200 else None)(http_get(admin, path)), 30,
                                        "%s %s" % (probe, path))
                check(status == 200, "kubernetes %s %s answered %d" % (probe, path, status))
        status, body = http_get(admin, "/readyz")
        check(json.loads(body).get("kafka") == "ok", "/readyz on a real broker does not say kafka ok: " + body)
        p.terminate()
        check(p.wait(30) == 0, "kubernetes config: SIGTERM did not end with exit 0")

        # Compose and the Containerfile: their environment, and their healthcheck commands run as
        # written (TRESSE_ADMIN_LISTEN pointing at the real port).
        compose = yaml.safe_load(load(source, "deploy/compose/compose.yaml"))
        d = compose["services"]["dispatcher"]
        env = base_env()
        env.update({k: str(v) for k, v in d["environment"].items() if k != "TRESSE_REGISTRY_ENCRYPTION_KEY"})
        p, admin = stack.dispatcher_run("compose", local(stack), env)
        hc_env = dict(env, TRESSE_ADMIN_LISTEN="0.0.0.0:%d" % admin)
        cf_hc = containerfile_healthcheck(load(source, "deploy/container/Containerfile"))
        for name, cmd in (("compose", d["healthcheck"]["test"][1:]), ("Containerfile", cf_hc)):
            argv = [dispatcher] + cmd[1:]
            ok = False
            for _ in range(100):
                r = subprocess.run(argv, env=hc_env, capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    ok = True
                    break
                time.sleep(0.2)
            check(ok, "%s healthcheck %r never passed: %s%s" % (name, cmd, r.stdout, r.stderr))
        # ... and fails once Redis is gone.
        subprocess.run(["redis-cli", "-u", stack.redis, "shutdown", "nosave"], capture_output=True)
        r = wait_for(lambda: (lambda r: r if r.returncode == 1 else None)(
            subprocess.run([dispatcher] + d["healthcheck"]["test"][2:], env=hc_env, capture_output=True, text=True, timeout=30)),
            30, "the healthcheck to fail without Redis")
        check('"redis": "unreachable"' in r.stdout, "healthcheck output does not name Redis: " + r.stdout)
        p.terminate()
        p.wait(30)
    finally:
        stack.close()
    return done()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["files", "systemd", "probes"])
    ap.add_argument("--source", required=True)
    ap.add_argument("--dispatcher")
    ap.add_argument("--prefix")
    a = ap.parse_args()
    if a.what == "files":
        return check_files(a.source, a.dispatcher)
    if a.what == "systemd":
        return check_systemd(a.source, a.prefix)
    return check_probes(a.source, a.dispatcher)


if __name__ == "__main__":
    sys.exit(main())
