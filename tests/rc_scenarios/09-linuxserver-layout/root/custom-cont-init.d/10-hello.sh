echo "custom script: PUID is ${PUID:-unset}"
