#!/usr/bin/with-contenv bashio
# ==============================================================================
# Prepare the Samba service for running
# ==============================================================================
declare password
declare username
declare interface
export HOSTNAME

# login data is required
if ! bashio::config.has_value 'username' || ! bashio::config.has_value 'password'; then
    bashio::exit.nok "Setting a username and password is required!"
fi

HOSTNAME=$(bashio::info.hostname)
if bashio::var.is_empty "${HOSTNAME}"; then
    bashio::log.warning "Can't read hostname, using default."
    HOSTNAME="hassio"
fi

interface=$(bashio::network.name)

bashio::log.info "Using hostname=${HOSTNAME} interface=${interface}"

# smb.conf from the options (the add-on pipes jq into tempio)
{
    echo "[global]"
    echo "   netbios name = ${HOSTNAME}"
    echo "   workgroup = $(bashio::config 'workgroup')"
    echo "   interfaces = ${interface}"
    echo "[config]"
    echo "   path = /config"
    echo "   valid users = $(bashio::config 'username')"
} > /etc/samba/smb.conf

username=$(bashio::config 'username')
password=$(bashio::config 'password')
# the Alpine image uses addgroup/adduser -D -H; Debian's equivalents here
groupadd "${username}"
useradd -M -g "${username}" -s /bin/false "${username}"
echo -e "${password}\n${password}" \
    | smbpasswd -a -s -c "/etc/samba/smb.conf" "${username}"
