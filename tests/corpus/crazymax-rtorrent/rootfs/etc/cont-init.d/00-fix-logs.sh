#!/usr/bin/with-contenv sh

# let the unprivileged daemons write to the container's output
chown ${PUID}:${PGID} /proc/self/fd/1 /proc/self/fd/2 || true
