#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# opensearch.sh - the OpenSearch node the es output's tests use, by hand.
#
#   tests/integration/services/opensearch.sh fetch   download once (Maven
#                                                    Central) into the cache
#   tests/integration/services/opensearch.sh serve   run a single node on a
#                                                    free 127.0.0.1 port
#                                                    until Ctrl-C
#
# The cache is ${LF_CACHE_DIR:-~/.cache/logferry}/opensearch; the version
# is LF_OPENSEARCH_VERSION (default in opensearch_fixture.py). The tests
# themselves start and stop their node (tests/integration/test_es.py).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
exec python3 "$here/opensearch_fixture.py" "${1:-serve}"
