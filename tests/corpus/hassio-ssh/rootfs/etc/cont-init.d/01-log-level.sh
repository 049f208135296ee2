#!/usr/bin/with-contenv bashio
# ==============================================================================
# Home Assistant Community Add-on: Base Images
# Sets the log level from the add-on option, for every later script
# ==============================================================================
declare log_level

if bashio::config.exists log_level; then
    log_level=$(bashio::string.lower "$(bashio::config log_level)")
    case "${log_level}" in
        all) log_level="${__BASHIO_LOG_LEVEL_ALL}" ;;
        trace) log_level="${__BASHIO_LOG_LEVEL_TRACE}" ;;
        debug) log_level="${__BASHIO_LOG_LEVEL_DEBUG}" ;;
        info) log_level="${__BASHIO_LOG_LEVEL_INFO}" ;;
        notice) log_level="${__BASHIO_LOG_LEVEL_NOTICE}" ;;
        warning) log_level="${__BASHIO_LOG_LEVEL_WARNING}" ;;
        error) log_level="${__BASHIO_LOG_LEVEL_ERROR}" ;;
        fatal) log_level="${__BASHIO_LOG_LEVEL_FATAL}" ;;
        off) log_level="${__BASHIO_LOG_LEVEL_OFF}" ;;
        *) bashio::exit.nok "Unknown log_level: ${log_level}" ;;
    esac

    # S6 hands it to every with-contenv script from now on
    echo "${log_level}" > /var/run/s6/container_environment/LOG_LEVEL
    bashio::log.blue "Log level is set to ${__BASHIO_LOG_LEVELS[$log_level]}"
fi
