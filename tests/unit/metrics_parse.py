#!/usr/bin/python3
"""Reads a Prometheus text exposition with Debian's python3-prometheus-client and compares its samples with
an expected list. Usage: metrics_parse.py TEXT_FILE EXPECTED_JSON_FILE
EXPECTED_JSON_FILE: [[sample_name, {label: value}, value_or_"NaN"/"+Inf"/"-Inf"], ...]; the exposition must
hold exactly these samples. Prints what differs and exits 1; exits 0 when equal."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(v):
    if isinstance(v, str):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    return float(v)


def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    expected = json.load(open(sys.argv[2], encoding="utf-8"))
    got = {}
    types = {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in got:
                print("duplicate sample", key)
                return 1
            got[key] = s.value
    bad = 0
    for name, labels, value in expected:
        key = (name, tuple(sorted(labels.items())))
        if key not in got:
            print("missing sample", key)
            bad = 1
        elif not same(got.pop(key), number(value)):
            print("value differs", key, "expected", value)
            bad = 1
    for key, value in got.items():
        print("unexpected sample", key, value)
        bad = 1
    print("types:", json.dumps(types, sort_keys=True))
    return bad


if __name__ == "__main__":
    sys.exit(main())
