#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# load-es-template.sh - installs logferry's index template
# (conf/elasticsearch/logferry-template.json) into Elasticsearch 7.8+ or
# OpenSearch 1+/2+ as a composable index template, with optional changes.
#
# Usage: tools/load-es-template.sh [options]
#   -u, --url URL            cluster URL (default: $LF_ES_URL or
#                            http://127.0.0.1:9200)
#   -n, --name NAME          template name (default: logferry)
#   -p, --pattern PATTERN    index pattern, repeatable (default: the file's,
#                            logferry-* and proxy-logs-*)
#   --data-stream            the patterns name data streams (use op_type
#                            create in the es output)
#   --shards N, --replicas N number_of_shards / number_of_replicas
#   --refresh-interval T     e.g. 30s, or -1 during a bulk load
#   --setting KEY=VALUE      any index setting, repeatable
#                            (e.g. translog.durability=async)
#   --ilm-policy NAME        Elasticsearch ILM policy (index.lifecycle.name);
#                            none by default. For OpenSearch ISM, attach the
#                            policy with its ism_template instead.
#   --user USER              basic auth; the password is read from
#                            $LF_ES_PASSWORD
#   --api-key-env VAR        send the API key in $VAR (Elasticsearch)
#   --cacert FILE            CA file for https; --insecure skips checks
#   --template FILE          another template file
#   --dry-run                print the JSON that would be sent, send nothing
# Exits 0 when the cluster acknowledged the template.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

url=${LF_ES_URL:-http://127.0.0.1:9200}
name=logferry
template=$here/conf/elasticsearch/logferry-template.json
patterns=()
settings=()
data_stream=0
ilm=""
user=""
api_key_env=""
curl_tls=()
dry_run=0

usage() {
    sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

need() {
    [ "$#" -ge 2 ] || { echo "load-es-template: $1 needs a value" >&2; usage; }
}

while [ "$#" -gt 0 ]; do
    case "$1" in
    -u | --url) need "$@"; url=$2; shift 2 ;;
    -n | --name) need "$@"; name=$2; shift 2 ;;
    -p | --pattern) need "$@"; patterns+=("$2"); shift 2 ;;
    --data-stream) data_stream=1; shift ;;
    --shards) need "$@"; settings+=("number_of_shards=$2"); shift 2 ;;
    --replicas) need "$@"; settings+=("number_of_replicas=$2"); shift 2 ;;
    --refresh-interval) need "$@"; settings+=("refresh_interval=$2"); shift 2 ;;
    --setting) need "$@"; settings+=("$2"); shift 2 ;;
    --ilm-policy) need "$@"; ilm=$2; shift 2 ;;
    --user) need "$@"; user=$2; shift 2 ;;
    --api-key-env) need "$@"; api_key_env=$2; shift 2 ;;
    --cacert) need "$@"; curl_tls+=(--cacert "$2"); shift 2 ;;
    --insecure) curl_tls+=(--insecure); shift ;;
    --template) need "$@"; template=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "load-es-template: unknown option $1" >&2; usage ;;
    esac
done

[ -r "$template" ] || { echo "load-es-template: cannot read $template" >&2; exit 1; }

# Edits the template with python3 (present wherever the tests run); the
# arguments travel as JSON so no value needs quoting.
args_json=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
    "$data_stream" "$ilm" "${#patterns[@]}" "${patterns[@]}" "${settings[@]}")
body=$(python3 - "$template" "$args_json" <<'EOF'
import json, sys
tmpl = json.load(open(sys.argv[1]))
args = json.loads(sys.argv[2])
data_stream, ilm, npat = args[0] == "1", args[1], int(args[2])
patterns, settings = args[3:3 + npat], args[3 + npat:]
if patterns:
    tmpl["index_patterns"] = patterns
if data_stream:
    tmpl["data_stream"] = {}
index = tmpl.setdefault("template", {}).setdefault("settings", {}) \
    .setdefault("index", {})
if ilm:
    index["lifecycle"] = {"name": ilm}
for kv in settings:
    key, sep, value = kv.partition("=")
    if not sep or not key:
        sys.exit("load-es-template: --setting wants KEY=VALUE, got %r" % kv)
    key = key[len("index."):] if key.startswith("index.") else key
    index[key] = value
print(json.dumps(tmpl))
EOF
)

if [ "$dry_run" = 1 ]; then
    printf '%s\n' "$body"
    exit 0
fi

auth=()
if [ -n "$user" ]; then
    [ -n "${LF_ES_PASSWORD:-}" ] || { echo "load-es-template: --user needs LF_ES_PASSWORD" >&2; exit 1; }
    auth=(--user "$user:$LF_ES_PASSWORD")
elif [ -n "$api_key_env" ]; then
    [ -n "${!api_key_env:-}" ] || { echo "load-es-template: \$$api_key_env is empty" >&2; exit 1; }
    auth=(-H "Authorization: ApiKey ${!api_key_env}")
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
code=$(printf '%s' "$body" | curl -sS -o "$out" -w '%{http_code}' \
    "${curl_tls[@]}" "${auth[@]}" -X PUT \
    -H 'Content-Type: application/json' --data-binary @- \
    "${url%/}/_index_template/$name") || {
    echo "load-es-template: PUT ${url%/}/_index_template/$name failed" >&2
    exit 1
}
if [ "${code:0:1}" != 2 ]; then
    echo "load-es-template: ${url%/}/_index_template/$name answered HTTP $code:" >&2
    cat "$out" >&2
    echo >&2
    exit 1
fi
echo "load-es-template: template $name installed on $url"
