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
Prints one line per check; exits 1 on the first failure.
"""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

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
pdb = next(d for (k, _), d in docs.items() if k == "PodDisruptionBudget")
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

tmp = tempfile.mkdtemp(prefix="iptv-k8s-")
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
    with open(os.path.join(tmp, "iptvd.yaml"), "w") as f:
        f.write(cfg_text.replace(cfg["tokens"]["keys_file"], keys))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
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
    ok_r = wait("/readyz", 90)
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout=60)
    log.close()
    text = open(os.path.join(tmp, "iptvd.log")).read()
    check(ok_h, "the real iptvd with the manifests' config answers the liveness probe " + ("" if ok_h else text[-2000:]))
    check(ok_r, "and the readiness probe once its channels serve " + ("" if ok_r else text[-2000:]))
    check(rc == 0, "and stops cleanly on SIGTERM (exit %d)" % rc)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("k8s manifests: all checks passed")
