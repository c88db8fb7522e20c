#!/usr/bin/env bash
# The simulation gates CI runs (release build):
#  - every scenario file validates;
#  - region-outage meets its expectations (RTO < 30 s, availability >= 99.9 %), and its
#    report (summary.json, report.html, junit.xml, charts) is written;
#  - every scenario is deterministic (two runs, byte-identical traces) and passes on
#    its own seed and the next one (`sim sweep`).
# Two simulations run at once: the CI machine has two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p switchyard-sim --bin sim
sim=target/release/sim
reports=target/sim-reports
mkdir -p "$reports"

"$sim" validate scenarios/*.toml
"$sim" run scenarios/region-outage.toml --json "$reports/region-outage.json" \
  --report-dir "$reports/region-outage"

# Every shipped scenario is checked twice for determinism (byte-identical traces) and
# held to its expectations on its own seed and the next one (`sim sweep`).
printf '%s\n' scenarios/*.toml | xargs -P 2 -I{} "$sim" check-determinism {}

for scenario in scenarios/*.toml; do
  name=$(basename "$scenario" .toml)
  seed=$(sed -n 's/^seed *= *\([0-9]*\).*/\1/p' "$scenario" | head -n 1)
  "$sim" sweep "$scenario" --seeds "$seed..$((seed + 1))" --jobs 2 \
    --report-dir "$reports/sweep-$name"
done
