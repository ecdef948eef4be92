#!/usr/bin/python3
"""The JSON Schema and the C++ loader agree: every sample in channels/ is valid for both, and every
record in tests/data/bad-channels/ is rejected by both, except the cases listed with their reason
in LOADER_ONLY.tsv (rules no single-document schema can express), which the schema must accept
(so the list stays honest). The loader's side is checked by test_records; this checks the schema.
Usage: schema_agreement.py SOURCE_ROOT"""
import json
import os
import sys

import jsonschema
import yaml

root = sys.argv[1]
schema = json.load(open(os.path.join(root, "schemas/channel.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad_dir = os.path.join(root, "tests/data/bad-channels")
loader_only = {}
for line in open(os.path.join(bad_dir, "LOADER_ONLY.tsv")):
    if line.strip():
        name, why = line.rstrip("\n").split("\t", 1)
        loader_only[name] = why

failures = 0


def errors_of(path):
    try:
        doc = yaml.safe_load(open(path))
    except yaml.YAMLError as e:
        return [f"YAML: {str(e).splitlines()[0]}"]
    return [f"{'/'.join(map(str, e.path))}: {e.message[:160]}" for e in v.iter_errors(doc)]


samples = sorted(f for f in os.listdir(os.path.join(root, "channels"))
                 if f.endswith(".yaml") and f != "profiles.yaml")
samples = [os.path.join(root, "channels", f) for f in samples]
samples += [os.path.join(root, "tests/data/article", f)
            for f in sorted(os.listdir(os.path.join(root, "tests/data/article")))]
for path in samples:
    errs = errors_of(path)
    if errs:
        failures += 1
        print(f"FAIL sample rejected by the schema: {path}: {errs[0]}")
    else:
        print(f"ok   valid  {os.path.relpath(path, root)}")

checked = 0
for name in sorted(os.listdir(bad_dir)):
    if not name.endswith(".yaml"):
        continue
    errs = errors_of(os.path.join(bad_dir, name))
    checked += 1
    if name in loader_only:
        if errs:
            failures += 1
            print(f"FAIL {name} is listed as loader-only but the schema rejects it: {errs[0]}")
        else:
            print(f"ok   loader-only {name}: {loader_only[name]}")
    elif not errs:
        failures += 1
        print(f"FAIL schema accepts bad record {name}")
    else:
        print(f"ok   invalid {name}: {errs[0]}")
for case in sorted(os.listdir(os.path.join(bad_dir, "cross-file"))):
    key = f"cross-file/{case}"
    if key not in loader_only:
        failures += 1
        print(f"FAIL {key} is not explained in LOADER_ONLY.tsv")

if checked < 25:
    failures += 1
    print(f"FAIL only {checked} bad records; the foundation asks for at least 25")
print(f"{checked} bad records, {len(samples)} samples, {failures} disagreement(s)")
sys.exit(1 if failures else 0)
