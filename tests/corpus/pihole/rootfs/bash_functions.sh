#!/bin/bash
# helpers of start.sh (stand-in versions of the real ones)
setupVars="/etc/pihole/setupVars.conf"

validate_env() {
    if [[ -z "$ServerIP" ]]; then
        echo "ERROR: ServerIP is not set"
        return 1
    fi
    echo "  ServerIP: $ServerIP, IPv6: $IPv6, TZ: ${TZ:-unset}"
}

prepare_configs() {
    mkdir -p /etc/pihole /var/log/lighttpd /run/pihole
    touch "$setupVars"
    chown root:root /etc/pihole
}

change_setting() {
    sed -i "/^${1}=/d" "$setupVars"
    echo "${1}=${2}" >> "$setupVars"
}

setup_web_password() {
    if [ -z "$1" ]; then
        echo "  Assigning random password"
        change_setting "WEBPASSWORD" "$(tr -dc a-z0-9 < /dev/urandom | head -c 8)"
    else
        echo "  Setting the web password from WEBPASSWORD"
        change_setting "WEBPASSWORD" "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"
    fi
}

setup_lighttpd_bind() {
    if [[ "$1" != "0.0.0.0" ]]; then
        sed -i -E "s/server.bind\s+=.*/server.bind = \"${1}\"/" /etc/lighttpd/lighttpd.conf
    fi
}

test_configs() {
    set -e
    echo -n '::: Testing pihole-FTL DNS: '
    pihole-FTL test && echo OK
    echo -n '::: Testing lighttpd config: '
    lighttpd -t -f /etc/lighttpd/lighttpd.conf
    set +e
    echo '::: All config checks passed, cleared for startup ...'
}
