#!/usr/bin/env bash
# Stand-in bashio library (see bashio next to it).
set -o errexit
set -o errtrace
set -o nounset
set -o pipefail

readonly __BASHIO_LOG_LEVEL_ALL=8 __BASHIO_LOG_LEVEL_TRACE=7 __BASHIO_LOG_LEVEL_DEBUG=6
readonly __BASHIO_LOG_LEVEL_INFO=5 __BASHIO_LOG_LEVEL_NOTICE=4 __BASHIO_LOG_LEVEL_WARNING=3
readonly __BASHIO_LOG_LEVEL_ERROR=2 __BASHIO_LOG_LEVEL_FATAL=1 __BASHIO_LOG_LEVEL_OFF=0
readonly -a __BASHIO_LOG_LEVELS=(OFF FATAL ERROR WARNING NOTICE INFO DEBUG TRACE ALL)
__BASHIO_LOG_LEVEL=${LOG_LEVEL:-${__BASHIO_LOG_LEVEL_INFO}}
__BASHIO_OPTIONS=${BASHIO_OPTIONS:-/data/options.json}
__BASHIO_SUPERVISOR=${BASHIO_SUPERVISOR:-/data/supervisor.env}

# --- log ----------------------------------------------------------------------
bashio::log() { echo -e "$*" >&2; }
bashio::log.log() {
    local level=$1; shift
    [[ "${level}" -le "${__BASHIO_LOG_LEVEL}" ]] || return 0
    echo -e "[$(date +%H:%M:%S)] ${__BASHIO_LOG_LEVELS[$level]}: $*" >&2
}
bashio::log.trace() { bashio::log.log "${__BASHIO_LOG_LEVEL_TRACE}" "$@"; }
bashio::log.debug() { bashio::log.log "${__BASHIO_LOG_LEVEL_DEBUG}" "$@"; }
bashio::log.info() { bashio::log.log "${__BASHIO_LOG_LEVEL_INFO}" "$@"; }
bashio::log.notice() { bashio::log.log "${__BASHIO_LOG_LEVEL_NOTICE}" "$@"; }
bashio::log.warning() { bashio::log.log "${__BASHIO_LOG_LEVEL_WARNING}" "$@"; }
bashio::log.error() { bashio::log.log "${__BASHIO_LOG_LEVEL_ERROR}" "$@"; }
bashio::log.fatal() { bashio::log.log "${__BASHIO_LOG_LEVEL_FATAL}" "$@"; }
bashio::log.red() { bashio::log "\033[31m$*\033[0m"; }
bashio::log.green() { bashio::log "\033[32m$*\033[0m"; }
bashio::log.yellow() { bashio::log "\033[33m$*\033[0m"; }
bashio::log.blue() { bashio::log "\033[34m$*\033[0m"; }
bashio::log.magenta() { bashio::log "\033[35m$*\033[0m"; }
bashio::debug() { [[ "${__BASHIO_LOG_LEVEL}" -ge "${__BASHIO_LOG_LEVEL_DEBUG}" ]]; }

# --- exit ---------------------------------------------------------------------
bashio::exit.nok() {
    if [[ $# -gt 0 ]]; then bashio::log.fatal "$@"; fi
    exit 1
}
bashio::exit.ok() { exit 0; }

# --- variables and strings ------------------------------------------------------
bashio::var.true() { [[ "${1:-}" == "true" ]]; }
bashio::var.false() { [[ "${1:-}" == "false" ]]; }
bashio::var.has_value() { [[ -n "${1:-}" && "${1:-}" != "null" ]]; }
bashio::var.is_empty() { [[ -z "${1:-}" ]]; }
bashio::var.equals() { [[ "${1:-}" == "${2:-}" ]]; }
bashio::string.lower() { printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]'; }
bashio::var.json() {
    local out="" key value
    while [[ $# -ge 2 ]]; do
        key=$1 value=$2; shift 2
        if [[ "${value}" == ^* ]]; then value=${value:1}; else value="\"${value}\""; fi
        out+="${out:+, }\"${key}\": ${value}"
    done
    printf '{%s}\n' "${out}"
}

# --- files ----------------------------------------------------------------------
bashio::fs.file_exists() { [[ -f "${1}" ]]; }
bashio::fs.directory_exists() { [[ -d "${1}" ]]; }

# --- add-on options (/data/options.json) -----------------------------------------
# bashio::config 'a.b' / 'list|keys' / 'list[0].name': one value per line, as jq -r.
bashio::config() {
    python3 - "${__BASHIO_OPTIONS}" "${1}" <<'PY'
import ast, re, sys
text = open(sys.argv[1]).read()
data = ast.literal_eval(re.sub(r"\b(true|false|null)\b",
                               lambda m: {"true": "True", "false": "False", "null": "None"}[m.group(1)], text))
path, keys = sys.argv[2], False
if path.endswith("|keys"):
    path, keys = path[:-5], True
node = data
for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
    if node is None:
        break
    node = node[int(part[1:-1])] if part.startswith("[") else node.get(part) if isinstance(node, dict) else None
if keys:
    node = list(range(len(node))) if isinstance(node, list) else sorted(node or {})
if isinstance(node, list):
    for item in node:
        print(item)
elif isinstance(node, bool):
    print("true" if node else "false")
else:
    print("null" if node is None else node)
PY
}
bashio::config.exists() { [[ "$(bashio::config "${1}")" != "null" ]]; }
bashio::config.has_value() { bashio::var.has_value "$(bashio::config "${1}")"; }
bashio::config.is_empty() { ! bashio::config.has_value "${1}"; }
bashio::config.true() { bashio::var.true "$(bashio::config "${1}")"; }
bashio::config.false() { bashio::var.false "$(bashio::config "${1}")"; }
bashio::config.equals() { [[ "$(bashio::config "${1}")" == "${2}" ]]; }
bashio::config.require.username() {
    bashio::config.has_value "${1}" || bashio::exit.nok "'${1}' is not set: a username is required"
}
bashio::config.require.password() {
    bashio::config.has_value "${1}" || bashio::exit.nok "'${1}' is not set: a password is required"
}

# --- what the Supervisor would answer (/data/supervisor.env) ----------------------
bashio::supervisor.answer() {
    local key=$1 line
    [[ -f "${__BASHIO_SUPERVISOR}" ]] || return 0
    while IFS= read -r line; do
        if [[ "${line%%=*}" == "${key}" ]]; then printf '%s\n' "${line#*=}"; return 0; fi
    done < "${__BASHIO_SUPERVISOR}"
}
bashio::supervisor.ping() { [[ "$(bashio::supervisor.answer ping)" == "ok" ]]; }
bashio::addon.name() { bashio::supervisor.answer addon_name; }
bashio::addon.port() { bashio::supervisor.answer "port_${1}"; }
bashio::addon.ingress_port() { bashio::supervisor.answer ingress_port; }
bashio::addon.protected() { echo "true"; }
bashio::info.hostname() { bashio::supervisor.answer hostname; }
bashio::network.name() { echo "eth0"; }
bashio::services.available() { [[ -n "$(bashio::supervisor.answer "service_${1}")" ]]; }
bashio::services() { bashio::supervisor.answer "service_${1}_${2}"; }
bashio::services.publish() { echo "${1}: ${2}" >> /data/published-services; }
bashio::services.delete() { echo "${1}: deleted" >> /data/published-services; }
bashio::discovery() { echo "${1}: ${2}" >> /data/discovery; }
bashio::jq() {
    python3 -c 'import re,sys; t=open(sys.argv[1]).read(); k=sys.argv[2].strip(".").split(".")[-1]; m=re.search(r"\"%s\": *\"([^\"]*)\"" % re.escape(k), t); print(m.group(1) if m else "null")' "${1}" "${2}"
}

# --- network ----------------------------------------------------------------------
# bashio::net.wait_for PORT [HOST] [TIMEOUT]: wait until something listens there.
bashio::net.wait_for() {
    local port=$1 host=${2:-127.0.0.1} timeout=${3:-60}
    python3 -c 'import socket,sys,time
port, host, end = int(sys.argv[1]), sys.argv[2], time.monotonic() + float(sys.argv[3])
while True:
    try:
        socket.create_connection((host, port), 1).close()
        break
    except OSError:
        if time.monotonic() > end:
            sys.exit(1)
        time.sleep(0.1)' "${port}" "${host}" "${timeout}"
}
