#!/usr/bin/env bash
# Re-fetch the vendored front-end files listed in gateway/web/static/vendor/versions.txt from the
# npm registry (`npm pack`, so only the registry is contacted) and check them in. Bump a version
# in versions.txt, run this, look at `git diff --stat`, run the browser tests, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=gateway/web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

grep -v '^\s*#' "$vendor/versions.txt" | grep -v '^\s*$' | while read -r spec files_and_licence; do
    read -r -a parts <<<"$files_and_licence"
    licence=${parts[-1]}
    unset 'parts[-1]'
    name=${spec%@*}
    (cd "$work" && npm pack --silent "$spec" >/dev/null)
    tarball=$(ls "$work"/*.tgz)
    mkdir -p "$work/x" && tar -xzf "$tarball" -C "$work/x"
    dest="$vendor/${name%.org}"
    rm -rf "$dest" && mkdir -p "$dest"
    for file in "${parts[@]}"; do
        cp "$work/x/package/$file" "$dest/"
    done
    cp "$work/x/package/$licence" "$dest/LICENSE"
    echo "$spec" >"$dest/VERSION"
    rm -rf "$work/x" "$tarball"
    echo "vendored $spec -> $dest"
done
