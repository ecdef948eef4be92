#!/usr/bin/python3
"""Validates YAML channel records against schemas/channel.schema.json with a real JSON Schema
validator (Debian's python3-jsonschema, draft 2020-12).

  validate_schema.py SCHEMA FILE...      exit 0 if every file is valid, 1 otherwise
  validate_schema.py --expect-invalid SCHEMA FILE...   exit 0 if every file is INVALID
Prints one line per file: 'valid FILE' or 'invalid FILE: first error'."""
import sys

import jsonschema
import yaml


def main(argv):
    expect_invalid = False
    if argv and argv[0] == "--expect-invalid":
        expect_invalid = True
        argv = argv[1:]
    schema_path, files = argv[0], argv[1:]
    with open(schema_path) as f:
        import json
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in files:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            print(f"invalid {path}: YAML: {str(e).splitlines()[0]}")
            ok = False
        else:
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            ok = not errors
            if ok:
                print(f"valid {path}")
            else:
                e = errors[0]
                loc = "/".join(str(p) for p in e.path)
                print(f"invalid {path}: {loc}: {e.message[:200]}")
        if ok == expect_invalid:
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
