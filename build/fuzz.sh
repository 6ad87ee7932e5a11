#!/usr/bin/env bash
# Coverage-guided fuzzing of MachIpc with AFL++ and SharpFuzz (tests/MachIpc.Fuzz; issue 13 item 4).
#   build/fuzz.sh [SECONDS] [TARGET...]     default: 60 s for each of validators, wire, copyin
# Installs what it needs (afl++ through apt-get when afl-fuzz is missing; the SharpFuzz instrumenter as the local
# dotnet tool of .config/dotnet-tools.json), builds the fuzz project into artifacts/fuzz/bin, instruments MachIpc.dll
# (the kernel, its host's decoder, the runtime's validation helpers) and the generated validators of MachIpc.Fuzz.dll,
# then runs afl-fuzz for SECONDS per target, seeded with tests/MachIpc.Fuzz/{corpus,findings}/TARGET. It prints
# executions, corpus paths, edges and crashes per target, replays every crash to show its exception, and exits 1 if
# any target crashed. A crash becomes a regression test by copying it into tests/MachIpc.Fuzz/findings/TARGET/.
# Linux only (AFL++).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(validators wire copyin)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ "$(uname -s)" != Linux ]; then
  echo "fuzz: AFL++ runs on Linux only" >&2
  exit 1
fi
if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz: afl-fuzz not found: installing afl++" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq afl++ >/dev/null
fi
dotnet tool restore >/dev/null

bin=artifacts/fuzz/bin
rm -rf "$bin" "$bin-replay"
dotnet build tests/MachIpc.Fuzz -c Release -o "$bin" -nologo -v:q -p:TreatWarningsAsErrors=true >/dev/null
# Crashes are replayed through an uninstrumented copy (instrumented code runs only under Fuzzer.Run).
cp -r "$bin" "$bin-replay"
# Only code that runs after Fuzzer.Run may be instrumented: of the fuzz assembly, the generated messages and
# dispatcher (namespace MachIpc.Fuzz.Messages), not its Main.
dotnet tool run sharpfuzz "$bin/MachIpc.dll" >/dev/null
dotnet tool run sharpfuzz "$bin/MachIpc.Fuzz.dll" MachIpc.Fuzz.Messages >/dev/null

# afl-fuzz checks that are about native targets and a dedicated machine, not a managed one on shared cores.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

stat() { sed -n "s/^$2 *: *//p" "$1" | head -n 1; }

failed=0
summary=()
for target in "${targets[@]}"; do
  work=artifacts/fuzz/$target
  rm -rf "$work"
  mkdir -p "$work/in"
  cp tests/MachIpc.Fuzz/corpus/"$target"/* "$work/in/"
  if [ -d tests/MachIpc.Fuzz/findings/"$target" ]; then
    cp tests/MachIpc.Fuzz/findings/"$target"/* "$work/in/" 2>/dev/null || true
  fi
  echo "fuzz: $target for $seconds s"
  # -t: a managed input may meet a GC or the tiered JIT; -m none: the runtime reserves far more than it uses.
  afl-fuzz -i "$work/in" -o "$work/out" -t 10000 -m none -V "$seconds" -- dotnet "$bin/MachIpc.Fuzz.dll" fuzz "$target" \
    > "$work/afl.log" 2>&1 || { echo "fuzz: afl-fuzz failed for $target:" >&2; tail -n 30 "$work/afl.log" >&2; exit 1; }
  stats=$work/out/default/fuzzer_stats
  execs=$(stat "$stats" execs_done)
  paths=$(stat "$stats" corpus_count)
  edges=$(stat "$stats" edges_found)
  cvg=$(stat "$stats" bitmap_cvg)
  crashes=$(stat "$stats" saved_crashes)
  hangs=$(stat "$stats" saved_hangs)
  line="$target: $execs executions, $paths paths, $edges edges (map coverage $cvg), $crashes crashes, $hangs hangs"
  echo "fuzz: $line"
  summary+=("$line")
  if [ "${crashes:-0}" != 0 ]; then
    failed=1
    dotnet "$bin-replay/MachIpc.Fuzz.dll" replay "$target" "$work"/out/default/crashes/id:* || true
  fi
done

echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
  echo "fuzz: crashes found (artifacts/fuzz/TARGET/out/default/crashes)" >&2
  exit 1
fi
