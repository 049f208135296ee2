#!/usr/bin/with-contenv bashio
# ==============================================================================
# Home Assistant Community Add-on: SSH & Web Terminal
# Configures the SSH daemon
# ==============================================================================
readonly SSH_AUTHORIZED_KEYS_PATH=/etc/ssh/authorized_keys
readonly SSH_CONFIG_PATH=/etc/ssh/sshd_config
declare port
declare username

port=$(bashio::addon.port 22)

# without a network port, only the web terminal is available
if ! bashio::var.has_value "${port}"; then
    bashio::log.info 'No network port is configured: web interface only.'
    exit 0
fi

bashio::config.require.username 'ssh.username'

if bashio::config.is_empty 'ssh.authorized_keys' \
    && bashio::config.is_empty 'ssh.password'; then
    bashio::log.fatal 'Set at least an SSH password or one authorized key!'
    bashio::exit.nok
fi

username=$(bashio::string.lower "$(bashio::config 'ssh.username')")
if [[ "${username}" != "root" ]]; then
    # the Alpine image uses adduser -D; this Debian stand-in, useradd
    id "${username}" > /dev/null 2>&1 || useradd -m -s /bin/sh "${username}" \
        || bashio::exit.nok 'Failed creating the user account'
fi

if bashio::config.has_value 'ssh.authorized_keys'; then
    while read -r key; do
        echo "${key}" >> "${SSH_AUTHORIZED_KEYS_PATH}"
    done <<< "$(bashio::config 'ssh.authorized_keys')"
fi

sed -i "s/Port\\ .*/Port\\ ${port}/" "${SSH_CONFIG_PATH}" \
    || bashio::exit.nok 'Failed configuring port'
if [[ "${username}" != "root" ]]; then
    sed -i "s/AllowUsers\\ .*/AllowUsers\\ ${username}/" "${SSH_CONFIG_PATH}" \
        || bashio::exit.nok 'Failed opening SSH for the configured user'
fi
bashio::log.info "SSH configured on port ${port} for ${username}"
