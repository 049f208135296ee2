#!/usr/bin/with-contenv bashio
# ==============================================================================
# Home Assistant Community Add-on: SSH & Web Terminal
# Persists the shell history and links the common folders into HOME
# ==============================================================================
readonly -a DIRECTORIES=(addons backup config media share ssl)
readonly BASH_HISTORY_FILE=/root/.bash_history
readonly BASH_HISTORY_PERSISTENT_FILE=/data/.bash_history

for dir in "${DIRECTORIES[@]}"; do
    ln -sfn "/${dir}" "${HOME}/${dir}" \
        || bashio::log.warning "Failed linking common directory: ${dir}"
done

touch "${BASH_HISTORY_PERSISTENT_FILE}" \
    || bashio::exit.nok 'Failed creating a persistent Bash history file'
chmod 600 "${BASH_HISTORY_PERSISTENT_FILE}" \
    || bashio::exit.nok 'Failed setting the permissions of the Bash history file'
ln -s -f "${BASH_HISTORY_PERSISTENT_FILE}" "${BASH_HISTORY_FILE}" \
    || bashio::exit.nok 'Failed linking the persistent Bash history file'
