#!/usr/bin/env bash
# The simulation gates CI runs (release build): scenarios whose expectations hold today
# must keep holding, and runs must stay deterministic.
#
# Scenarios not listed here run (`sim run scenarios/<name>.toml`) but do not hold all of
# their expectations yet; see the project's issues.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p switchyard-sim --bin sim
sim=target/release/sim

"$sim" validate scenarios/*.toml
"$sim" run scenarios/node-kill.toml --json target/sim-node-kill.json
for scenario in scenarios/node-kill.toml scenarios/region-outage.toml; do
  "$sim" check-determinism "$scenario"
done
