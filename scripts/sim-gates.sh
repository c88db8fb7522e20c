#!/usr/bin/env bash
# The simulation gates CI runs (release build):
#  - every scenario file validates;
#  - region-outage meets its expectations (RTO < 30 s, availability >= 99.9 %), and its
#    report (summary.json, report.html, junit.xml, charts) is written;
#  - the listed scenarios are deterministic (two runs, byte-identical traces) and pass
#    on their own seed and the next one (`sim sweep`).
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

# Determinism: the scenarios checked twice, byte for byte. Sweeps: the scenarios held to
# their expectations on their own seed and the next. Scenarios join these lists once
# they are shown to hold (partition and eu-outage-pinned still wait on a fix to the
# oracle's check of moves onto nodes published down; see the project's issues).
deterministic="node-kill region-outage"
swept="node-kill latency-spike shard-stall"

for name in $deterministic; do echo "scenarios/$name.toml"; done |
  xargs -P 2 -I{} "$sim" check-determinism {}

for name in $swept; do
  scenario="scenarios/$name.toml"
  seed=$(sed -n 's/^seed *= *\([0-9]*\).*/\1/p' "$scenario" | head -n 1)
  "$sim" sweep "$scenario" --seeds "$seed..$((seed + 1))" --jobs 2 \
    --report-dir "$reports/sweep-$name"
done
