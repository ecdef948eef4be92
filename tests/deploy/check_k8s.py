#!/usr/bin/env python3
"""deploy/k8s checked with what Debian offers, and against the binary (issue 20 item 4).

- Every manifest parses (python3-yaml); `kubectl kustomize` renders the kustomization when a
  kubectl is installed (Debian: kubernetes-client).
- The StatefulSet, headless Service, PodDisruptionBudget and ConfigMaps agree: selectors and
  labels, serviceName, required anti-affinity by host, named ports, every mounted volume defined,
  the Secret the example names, requests set.
- Against the binary: every flag in the container's args is one `iptvd --help` lists; the config's
  listen.port is the containerPort and the Service's port; the channel records pass
  `iptvctl validate`; the real iptvd started with the ConfigMap's config and records (paths
  mapped to a temp folder) answers /healthz and then /readyz with 200: the probes' paths exist
  and mean what the manifests say.
- The cluster (docs/cluster.md): the config's `cluster.etcd` URLs are the members of etcd.yaml's
  StatefulSet behind its headless Service, on its client port; the node id is the pod's name
  (--node $(POD_NAME) from metadata.name). The real iptvd runs against a real etcd (Debian's
  etcd-server, standing in for the etcd URLs) as pod iptvd-0: it registers /iptv/nodes/iptvd-0
  and owns the ConfigMap's channels before /readyz answers 200.
Prints one line per check; exits 1 on the first failure.
"""
import base64, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

import yaml

SRC = os.environ.get("IPTV_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ["IPTV_BUILD_ROOT"]
K8S = os.path.join(SRC, "deploy", "k8s")
IPTVD = os.path.join(BUILD, "orchestrator", "iptvd", "iptvd")
IPTVCTL = os.path.join(BUILD, "orchestrator", "iptvctl", "iptvctl")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        sys.exit(1)


def load(name):
    with open(os.path.join(K8S, name)) as f:
        return list(yaml.safe_load_all(f))


kust = load("kustomization.yaml")[0]
docs = {}
for res in kust["resources"]:
    for d in load(res):
        docs[(d["kind"], d["metadata"]["name"])] = d
check(set(k for k, _ in docs) >= {"StatefulSet", "Service", "PodDisruptionBudget", "ConfigMap"},
      "the kustomization has a StatefulSet, a Service, a PodDisruptionBudget and ConfigMaps")
kubectl = shutil.which("kubectl")
if kubectl:
    r = subprocess.run([kubectl, "kustomize", K8S], capture_output=True, text=True)
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else []
    check(r.returncode == 0 and len(rendered) == len(docs),
          "kubectl kustomize renders all %d resources %s" % (len(docs), r.stderr.strip()))
else:
    print("skip kubectl kustomize (no kubectl: Debian package kubernetes-client)")

sts = docs[("StatefulSet", "iptvd")]
svc = docs[("Service", sts["spec"]["serviceName"])]
pdb = docs[("PodDisruptionBudget", "iptvd")]
labels = sts["spec"]["template"]["metadata"]["labels"]
check(sts["spec"]["selector"]["matchLabels"].items() <= labels.items(),
      "the StatefulSet's selector matches its pods")
check(svc["spec"].get("clusterIP") == "None", "the Service is headless")
check(svc["spec"]["selector"].items() <= labels.items(), "the Service selects the pods")
check(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the PDB selects the pods")
check(sts["spec"]["replicas"] >= 2 and pdb["spec"].get("maxUnavailable", 0) == 1,
      "several replicas, at most one away at a time")
anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
req = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
check(req["topologyKey"] == "kubernetes.io/hostname" and
      req["labelSelector"]["matchLabels"].items() <= labels.items(),
      "required anti-affinity: one iptvd per host")
pod = sts["spec"]["template"]["spec"]
c = pod["containers"][0]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, "readiness on /readyz")
check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, "liveness on /healthz")
check("requests" in c["resources"] and "cpu" in c["resources"]["requests"] and
      "memory" in c["resources"]["requests"], "resource requests set")
volumes = {v["name"]: v for v in pod["volumes"]}
volumes.update({t["metadata"]["name"]: t for t in sts["spec"].get("volumeClaimTemplates", [])})
for m in c["volumeMounts"]:
    check(m["name"] in volumes, "volume %s is defined" % m["name"])
for v in pod["volumes"]:
    if "configMap" in v:
        check(("ConfigMap", v["configMap"]["name"]) in docs, "ConfigMap %s exists" % v["configMap"]["name"])
secret = load("secret.example.yaml")[0]
check(volumes["token-keys"]["secret"]["secretName"] == secret["metadata"]["name"],
      "the Secret the pods mount is the one secret.example.yaml shows")
svc_port = svc["spec"]["ports"][0]
check(svc_port["targetPort"] in ports, "the Service targets the container's named port")

# Against the binary.
help_text = subprocess.run([IPTVD, "--help"], capture_output=True, text=True).stdout
for flag in [a for a in c["args"] if a.startswith("--")]:
    check("[" + flag + " " in help_text or "[" + flag + "]" in help_text,
          "iptvd knows %s" % flag)
cfg_text = docs[("ConfigMap", "iptvd-config")]["data"]["iptvd.yaml"]
cfg = yaml.safe_load(cfg_text)
check(cfg["listen"]["port"] == ports["http"] == svc_port["port"],
      "listen.port %s = containerPort %s = Service port %s" %
      (cfg["listen"]["port"], ports["http"], svc_port["port"]))
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
check(os.path.dirname(cfg["tokens"]["keys_file"]) in mounts,
      "tokens.keys_file lies in the Secret's mount")
args = c["args"]
check(args[args.index("--channels") + 1] in mounts and args[args.index("--data") + 1] in mounts,
      "--channels and --data are mounted volumes")

# The cluster: etcd.yaml and the config's cluster section agree; the node id is the pod's name.
ecd = docs[("StatefulSet", "etcd")]
esvc = docs[("Service", ecd["spec"]["serviceName"])]
check(esvc["spec"].get("clusterIP") == "None" and
      esvc["spec"]["selector"].items() <= ecd["spec"]["template"]["metadata"]["labels"].items(),
      "etcd: a headless Service selecting the etcd StatefulSet's pods")
eport = next(p for p in esvc["spec"]["ports"] if p["name"] == "client")
ec = ecd["spec"]["template"]["spec"]["containers"][0]
check(any(p["name"] == eport["targetPort"] and p["containerPort"] == 2379 for p in ec["ports"]) and
      "--listen-client-urls=http://0.0.0.0:2379" in ec["args"],
      "etcd: the Service's client port is the members' client port")
members = ["%s-%d.%s" % (ecd["metadata"]["name"], i, esvc["metadata"]["name"])
           for i in range(ecd["spec"]["replicas"])]
initial = next(a for a in ec["args"] if a.startswith("--initial-cluster="))
check(all("%s=http://%s:2380" % (m.split(".")[0], m) in initial for m in members),
      "etcd: --initial-cluster names every member by its stable name")
cl = cfg.get("cluster") or {}
check(sorted(cl.get("etcd", [])) == sorted("http://%s:%d" % (m, eport["port"]) for m in members),
      "cluster.etcd lists every etcd member: %s" % cl.get("etcd"))
check(args[args.index("--node") + 1] == "$(POD_NAME)" and "node_id" not in cl and
      any(e["name"] == "POD_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
          for e in c["env"]),
      "the node id is the pod's name (--node $(POD_NAME), no cluster.node_id)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def etcd_get(url, key):
    body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
    try:
        r = json.load(urllib.request.urlopen(url + "/v3/kv/range", body, timeout=5))
    except OSError:
        return None
    kvs = r.get("kvs") or []
    return json.loads(base64.b64decode(kvs[0]["value"])) if kvs else None


tmp = tempfile.mkdtemp(prefix="iptv-k8s-")
etcd = None
try:
    chdir = os.path.join(tmp, "channels")
    os.makedirs(chdir)
    for name, text in docs[("ConfigMap", "iptv-channels")]["data"].items():
        with open(os.path.join(chdir, name), "w") as f:
            f.write(text)
    r = subprocess.run([IPTVCTL, "validate", chdir], capture_output=True, text=True)
    check(r.returncode == 0, "the ConfigMap's channel records pass iptvctl validate " + r.stdout + r.stderr)
    keys = os.path.join(tmp, "token.keys")
    with open(keys, "w") as f:
        f.write("k1 " + os.urandom(32).hex() + "\n")
    os.chmod(keys, 0o440)
    # A real etcd (Debian's etcd-server) in place of the cluster's members.
    ec_url, peer = "http://127.0.0.1:%d" % free_port(), "http://127.0.0.1:%d" % free_port()
    etcd = subprocess.Popen(["/usr/bin/etcd", "--name", "t", "--data-dir", os.path.join(tmp, "etcd"),
                             "--listen-client-urls", ec_url, "--advertise-client-urls", ec_url,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", "t=" + peer, "--logger", "zap"],
                            stdout=open(os.path.join(tmp, "etcd.log"), "w"), stderr=subprocess.STDOUT)
    text = cfg_text.replace(cfg["tokens"]["keys_file"], keys)
    for u in cl["etcd"]:
        text = text.replace(u, ec_url)
    check(ec_url in text and "etcd-0" not in text, "the config's etcd URLs mapped to a test etcd")
    with open(os.path.join(tmp, "iptvd.yaml"), "w") as f:
        f.write(text)
    port = free_port()
    log = open(os.path.join(tmp, "iptvd.log"), "w")
    d = subprocess.Popen([IPTVD, "--config", os.path.join(tmp, "iptvd.yaml"), "--channels", chdir,
                          "--data", os.path.join(tmp, "data"), "--listen", "127.0.0.1:%d" % port,
                          "--node", "iptvd-0"], stdout=log, stderr=subprocess.STDOUT)

    def status(path):
        try:
            return urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5).status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0

    def wait(path, limit):
        end = time.time() + limit
        while time.time() < end:
            if status(path) == 200:
                return True
            time.sleep(0.25)
        return False

    ok_h = wait("/healthz", 30)
    # The node claims its channels in its second round (lease_ttl / 3 apart); /readyz counts
    # only the channels it owns, so it is read once they are.
    channels = [n[:-5] for n in docs[("ConfigMap", "iptv-channels")]["data"]]
    end = time.time() + 60
    while time.time() < end and not all(etcd_get(ec_url, "/iptv/owners/" + ch) for ch in channels):
        time.sleep(0.25)
    node_key = etcd_get(ec_url, "/iptv/nodes/iptvd-0")
    owners = {ch: etcd_get(ec_url, "/iptv/owners/" + ch) for ch in channels}
    ok_r = wait("/readyz", 90)
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout=60)
    log.close()
    text = open(os.path.join(tmp, "iptvd.log")).read()
    check(ok_h, "the real iptvd with the manifests' config answers the liveness probe " + ("" if ok_h else text[-2000:]))
    check(ok_r, "and the readiness probe once its channels serve " + ("" if ok_r else text[-2000:]))
    check(rc == 0, "and stops cleanly on SIGTERM (exit %d)" % rc)
    check(node_key is not None and node_key.get("node") == "iptvd-0",
          "it registered in etcd as the pod's name: %s" % node_key)
    check(all(o and o.get("node") == "iptvd-0" for o in owners.values()),
          "and owned the ConfigMap's channels in etcd: %s" % owners)
finally:
    if etcd:
        etcd.kill()
        etcd.wait()
    shutil.rmtree(tmp, ignore_errors=True)
print("k8s manifests: all checks passed")
