#!/usr/bin/env bash
# The HTTP reference in docs/, generated from the service's OpenAPI document:
#   docs/openapi.json  the document (scripts/openapi-document.ts, default settings)
#   docs/api.html      the full reference, one self-contained page (Redocly CLI's build-docs with
#                      Redoc inlined, so it opens offline)
#   docs/api.md        its index that reads on a code host (scripts/api-index.ts)
# Every file depends on the document alone, so the same code gives byte-identical files. (The page
# also records REDOCLY_TELEMETRY, so it is fixed here; a redocly.yaml at the root would change it too.)
#
#   bash scripts/docs.sh           write them into docs/            (npm run docs)
#   bash scripts/docs.sh --check   write them into a temporary folder and compare with docs/;
#                                  exit 1, naming each file, when docs/ is stale (npm run docs:check)
# Building the document needs DATABASE_URL and REDIS_URL to answer, as for the tests.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PATH="$PWD/node_modules/.bin:$PATH"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

FILES=(openapi.json api.html api.md)

# Writes the three files into the folder $1.
generate() {
  local out=$1 log
  mkdir -p "$out"
  tsx scripts/openapi-document.ts "$out/openapi.json"
  log=$(mktemp "${TMPDIR:-/tmp}/docs-sh.XXXXXX")
  if ! redocly build-docs "$out/openapi.json" --output "$out/api.html" --inlineBundle --lint-config=off >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "redocly build-docs failed (above: its output)" >&2
    return 1
  fi
  rm -f "$log"
  tsx scripts/api-index.ts "$out/openapi.json" "$out/api.md"
}

if [[ ${1:-} != --check ]]; then
  generate docs
  echo "docs: wrote ${FILES[*]/#/docs/}"
  exit 0
fi

fresh=$(mktemp -d "${TMPDIR:-/tmp}/docs-check.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
generate "$fresh"
stale=()
for file in "${FILES[@]}"; do
  cmp -s "$fresh/$file" "docs/$file" && continue
  stale+=("docs/$file")
  # The page carries Redoc minified; the other two show what changed.
  [[ $file == api.html ]] || diff -u "docs/$file" "$fresh/$file" | head -n 40 >&2 || true
done
if [[ ${#stale[@]} -gt 0 ]]; then
  echo "docs: stale (differs from what the code generates): ${stale[*]}" >&2
  echo "docs: run 'npm run docs' and commit the result" >&2
  exit 1
fi
echo "docs: up to date (${FILES[*]/#/docs/})"
