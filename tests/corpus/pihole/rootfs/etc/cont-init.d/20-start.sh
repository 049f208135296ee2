#!/usr/bin/with-contenv bash
set -e

bashCmd='bash -e'
if [ "${PH_VERBOSE:-0}" -gt 0 ] ; then
    set -x ;
    bashCmd='bash -e -x'
fi

$bashCmd /start.sh

gravityDBfile="/etc/pihole/gravity.db"
echo "  Checking if custom gravity.db is set in /etc/pihole/pihole-FTL.conf"
if [[ -f /etc/pihole/pihole-FTL.conf ]]; then
    gravityDBfile="$(grep --color=never -Po "^GRAVITYDB=\K.*" /etc/pihole/pihole-FTL.conf 2> /dev/null || echo "/etc/pihole/gravity.db")"
fi

if [ -z "$SKIPGRAVITYONBOOT" ] || [ ! -e "${gravityDBfile}" ]; then
    echo '@reboot root PATH="$PATH:/usr/sbin:/usr/local/bin/" pihole updateGravity >/var/log/pihole_updateGravity.log || cat /var/log/pihole_updateGravity.log' > /etc/cron.d/gravity-on-boot
else
    echo "  Skipping Gravity Database Update."
    [ ! -e /etc/cron.d/gravity-on-boot ] || rm /etc/cron.d/gravity-on-boot &>/dev/null
fi

pihole -v

echo "  Container tag is: ${PIHOLE_DOCKER_TAG}"
