#!/bin/bash -e
# Pi-hole container set-up, run by cont-init.d/20-start.sh through `bash -e /start.sh`
. /bash_functions.sh

echo " ::: Starting docker specific checks & setup for docker pihole/pihole"

validate_env || exit 1
prepare_configs
change_setting "IPV4_ADDRESS" "$ServerIP"
setup_web_password "$WEBPASSWORD"
setup_lighttpd_bind "$ServerIP"
test_configs

echo " ::: Docker start setup complete"
