#!/usr/bin/with-contenv bashio
# ==============================================================================
# Home Assistant Community Add-on: Base Images
# Shows a banner on start-up (only when the Supervisor answers)
# ==============================================================================
if bashio::supervisor.ping; then
    bashio::log.blue '-----------------------------------------------------------'
    bashio::log.blue " Add-on: $(bashio::addon.name)"
    bashio::log.blue '-----------------------------------------------------------'
fi
