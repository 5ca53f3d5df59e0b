#!/usr/bin/env bash
# Installs what zkvault's build, tests and demo need, and nothing that is already there:
#   - Debian's `zookeeper` package (the server jars the tests run) and a Java runtime;
#   - Kerberos: the KDC and admin tools the SASL/GSSAPI tests run a realm with (krb5-kdc,
#     krb5-admin-server), and libkrb5-dev, which the optional `kerberos` npm package builds against;
#   - openssl, which the TLS tests make certificates with;
#   - docker-compose and systemd, whose `config` and `systemd-analyze verify` check the deploy/
#     examples (no Docker engine or running systemd is needed);
#   - the npm dependencies (`npm ci`, whose `prepare` script also runs the TypeScript build).
# Safe to run again and again.
# Exit status: 0 ready; 3 ZooKeeper/Java still missing (could not install them); anything else: npm failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ZK_JAR=/usr/share/java/zookeeper.jar
say() { printf 'install-deps: %s\n' "$*" >&2; }

have_java() { command -v java >/dev/null 2>&1 && java -version >/dev/null 2>&1; }

system_packages=()
[ -f "$ZK_JAR" ] || system_packages+=(zookeeper)
have_java || system_packages+=(default-jre-headless)
command -v krb5kdc >/dev/null 2>&1 || system_packages+=(krb5-kdc)
command -v kadmin.local >/dev/null 2>&1 || system_packages+=(krb5-admin-server)
[ -f /usr/include/gssapi/gssapi.h ] || system_packages+=(libkrb5-dev)
command -v openssl >/dev/null 2>&1 || system_packages+=(openssl)
command -v docker-compose >/dev/null 2>&1 || system_packages+=(docker-compose)
command -v systemd-analyze >/dev/null 2>&1 || system_packages+=(systemd)

status=0
if [ "${#system_packages[@]}" -eq 0 ]; then
  say "ZooKeeper ($ZK_JAR), Java ($(command -v java)) and the test tools are installed"
else
  say "missing: ${system_packages[*]}; installing them with apt-get"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      as_root=(false)
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "ERROR: no apt-get here. Install ZooKeeper 3.8 jars at $ZK_JAR and a Java runtime (17+) yourself."
    status=3
  elif [ "${as_root[0]:-}" = false ]; then
    say "ERROR: not root and no sudo. Run as root: apt-get update && apt-get install -y ${system_packages[*]}"
    status=3
  elif ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
      || ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${system_packages[@]}"; then
    say "ERROR: apt-get could not install ${system_packages[*]} (see above)"
    status=3
  fi
  if [ "$status" -eq 0 ]; then
    if [ ! -f "$ZK_JAR" ] || ! have_java; then
      say "ERROR: after installing, still missing $([ -f "$ZK_JAR" ] || printf '%s ' "$ZK_JAR")$(have_java || printf 'java')"
      status=3
    else
      say "installed: ${system_packages[*]}"
    fi
  fi
fi

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci; its prepare script builds the TypeScript)"
  if ! npm ci --no-audit --no-fund; then
    say "ERROR: npm ci failed (if the error above is from tsc, the dependencies are installed but the build is broken)"
    exit 1
  fi
else
  say "npm dependencies are up to date with package-lock.json"
fi

exit "$status"
