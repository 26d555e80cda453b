#!/usr/bin/env bash
# dataaudit as a pre-training pipeline step.
#
#   bash examples/pipeline_step.sh [WORKDIR]          # needs: pip install dataaudit
#
# 1. audit the training data, writing the report files into $WORK/audit;
# 2. a gate decides: exit 1 = the data breaks a rule (stop the pipeline, show why),
#    exit 2 = bad input or usage (a one-line message on stderr);
# 3. otherwise train with the audit's outputs: sample_weight.npy and split.npz.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
WORK="${1:-$(mktemp -d)}"
PY="${PYTHON:-python}"

# Data for the example: digits with planted problems (your pipeline has its own X.npy, y.npy).
"$PY" "$here/make_demo_data.py" "$WORK/data" >/dev/null

# The gate. The demo data has 6% flipped labels, so the 10% rule passes; conflicting duplicates
# are refused outright in many pipelines, here the rule allows up to 5% of the samples.
status=0
dataaudit scan "$WORK/data/X.npy" "$WORK/data/y.npy" \
  --test-x "$WORK/data/X_test.npy" --test-y "$WORK/data/y_test.npy" \
  --out "$WORK/audit" --format json --quiet --seed 0 \
  --fail-on "label_issues>10%,conflicting_duplicates>5%,leakage>20%" > "$WORK/audit.json" || status=$?

case "$status" in
  0) echo "audit passed" ;;
  1) echo "audit gate tripped:" >&2
     "$PY" -c 'import json,sys; [print("  ", t["condition"], "measured", t["value"], file=sys.stderr) for t in json.load(open(sys.argv[1]))["gate"]["tripped"]]' "$WORK/audit.json"
     exit 1 ;;
  *) echo "audit could not run (exit $status)" >&2; exit "$status" ;;
esac

# Findings, for the build log.
"$PY" - "$WORK/audit.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for f in report["findings"]:
    print(f"[{f['severity']}] {f['check']}: {f['message']}")
PY

# Train on the audit's outputs: the cleaned, group-aware split and the sample weights.
"$PY" - "$WORK" <<'PY'
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression

work = sys.argv[1]
X = np.load(f"{work}/data/X.npy").reshape(-1, 64)
y = np.load(f"{work}/data/y.npy")
w = np.load(f"{work}/audit/sample_weight.npy")
split = np.load(f"{work}/audit/split.npz")
train, val = split["train"], split["val"]
model = LogisticRegression(max_iter=2000).fit(X[train], y[train], sample_weight=w[train])
print(f"trained on {len(train)} rows ({len(split['excluded'])} excluded by the audit); "
      f"validation accuracy {model.score(X[val], y[val]):.3f}")
PY
