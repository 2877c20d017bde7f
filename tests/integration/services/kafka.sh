#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kafka.sh - Apache Kafka for the integration tests, from Maven Central.
#
#   kafka.sh fetch    download the broker's jars once (Maven), print their
#                     folder; a second call downloads nothing
#   kafka.sh run DIR  format DIR (once) and run a single-node KRaft broker
#                     in the foreground on 127.0.0.1:${KAFKA_PORT:-19092}
#                     (controller on ${KAFKA_CONTROLLER_PORT:-19093}), for a
#                     look by hand; the tests start their own
#                     (tests/integration/kafka_fixture.py)
#
# Jars are kept in ${LF_CACHE_DIR:-$HOME/.cache/logferry}/kafka/VERSION/libs,
# Maven's own repository in ~/.m2. LF_KAFKA_VERSION picks another 4.x.
set -euo pipefail

version=${LF_KAFKA_VERSION:-4.1.1}
slf4j_version=2.0.17
cache=${LF_CACHE_DIR:-$HOME/.cache/logferry}/kafka/$version
libs=$cache/libs

kafka_pom() {
    cat <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>logferry.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <!-- A logging backend: warnings and errors on stderr. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$slf4j_version</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$slf4j_version</version>
    </dependency>
  </dependencies>
</project>
POM
}

kafka_fetch() {
    if [ -f "$libs/.complete" ]; then
        echo "$libs"
        return
    fi
    command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9 # another test run may be fetching: wait for it
    if [ ! -f "$libs/.complete" ]; then
        kafka_pom >"$cache/pom.xml"
        rm -rf "$libs.tmp"
        if ! mvn -B -q -f "$cache/pom.xml" \
            org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
            -DoutputDirectory="$libs.tmp" -DincludeScope=runtime \
            >"$cache/mvn.log" 2>&1; then
            echo "kafka.sh: maven failed; its output:" >&2
            tail -n 30 "$cache/mvn.log" >&2
            exit 1
        fi
        touch "$libs.tmp/.complete"
        rm -rf "$libs"
        mv "$libs.tmp" "$libs"
    fi
    exec 9>&-
    echo "$libs"
}

kafka_run() {
    local dir=$1 port=${KAFKA_PORT:-19092} cport=${KAFKA_CONTROLLER_PORT:-19093}
    local cp
    cp="$(kafka_fetch)/*"
    mkdir -p "$dir"
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
PROPS
    if [ ! -f "$dir/data/meta.properties" ]; then
        java -cp "$cp" kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" \
            -c "$dir/server.properties"
    fi
    exec java -Xmx512m -cp "$cp" kafka.Kafka "$dir/server.properties"
}

case "${1:-}" in
fetch) kafka_fetch ;;
run) kafka_run "${2:?usage: kafka.sh run DIR}" ;;
*)
    echo "usage: kafka.sh fetch | run DIR" >&2
    exit 2
    ;;
esac
