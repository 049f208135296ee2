#!/usr/bin/with-contenv bash
# run by cron: the real one downloads a blocklist and reloads the session
echo "blocklist update (stand-in)"
