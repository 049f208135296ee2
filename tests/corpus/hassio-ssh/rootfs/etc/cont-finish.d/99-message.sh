#!/usr/bin/env bashio
# ==============================================================================
# Home Assistant Community Add-on: Base Images
# A message right before the container ends, when something went wrong
# ==============================================================================
if [[ "${S6_STAGE2_EXITED}" -ne 0 ]]; then
    bashio::log.red '-----------------------------------------------------------'
    bashio::log.red '                Oops! Something went wrong.'
    bashio::log.red ' Check the log above, line by line, for hints.'
    bashio::log.red '-----------------------------------------------------------'
fi
