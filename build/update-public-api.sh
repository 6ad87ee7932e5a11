#!/usr/bin/env bash
# Regenerates src/MachIpc/PublicAPI.Unshipped.txt and src/MachIpc.Hosting/PublicAPI.Unshipped.txt from the compiler:
# every public symbol of the runtime (hand-written and source-generated) and of the hosting package that its
# PublicAPI.Shipped.txt does not already list.
#
# Run it after adding or changing public API on purpose, review the diff, and commit it with the change.
# It does not touch PublicAPI.Shipped.txt: removing shipped API (RS0017) needs a deliberate *REMOVED* entry.
# Works offline once packages are restored: it only builds the two projects and reads RS0016 from the build logs.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

update() {
    local project=$1 unshipped=$2

    # Start from an empty Unshipped file so that API removed since the last run drops out too.
    printf '#nullable enable\n' > "$unshipped"

    # RS0016 is a warning; keep it a warning here so the build finishes and reports every symbol.
    dotnet build "$project" --no-incremental -nologo -tl:off -clp:NoSummary \
        -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= >"$log" 2>&1 || {
        if grep -q ': error ' "$log"; then
            grep ': error ' "$log" | sort -u >&2
            echo "update-public-api: the build failed for reasons other than the public API; fix those first." >&2
            exit 1
        fi
    }

    {
        printf '#nullable enable\n'
        grep -oE "warning RS0016: Symbol '.*' is not part of the declared public API" "$log" \
            | sed -E "s/^warning RS0016: Symbol '(.*)' is not part of the declared public API$/\1/" \
            | LC_ALL=C sort -u
    } > "$unshipped.tmp"
    mv "$unshipped.tmp" "$unshipped"

    echo "update-public-api: $(($(wc -l < "$unshipped") - 1)) entries in $unshipped"
    # A second build must now be clean of RS0016/RS0017 (RS0017 here means shipped API was removed).
    dotnet build "$project" -nologo -tl:off -clp:NoSummary >"$log" 2>&1 || { grep -E ': (error|warning) ' "$log" | sort -u >&2; exit 1; }
    echo "update-public-api: $project builds clean"
}

update src/MachIpc/MachIpc.csproj src/MachIpc/PublicAPI.Unshipped.txt
update src/MachIpc.Hosting/MachIpc.Hosting.csproj src/MachIpc.Hosting/PublicAPI.Unshipped.txt
