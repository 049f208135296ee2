#!/usr/bin/with-contenv sh

# the public address rtorrent announces; kept for every later with-contenv program
WAN_IP=${WAN_IP:-$(dig +short myip.opendns.com @resolver1.opendns.com)}
printf "%s" "$WAN_IP" > /var/run/s6/container_environment/WAN_IP

TZ=${TZ:-UTC}
XMLRPC_PORT=${XMLRPC_PORT:-8000}
RUTORRENT_PORT=${RUTORRENT_PORT:-8080}
RT_INC_PORT=${RT_INC_PORT:-50000}

echo "Setting timezone to ${TZ}..."
ln -snf /usr/share/zoneinfo/${TZ} /etc/localtime
echo ${TZ} > /etc/timezone

echo "Setting rTorrent local configuration..."
sed -e "s!@RT_INC_PORT@!$RT_INC_PORT!g" \
  -e "s!@XMLRPC_PORT@!$XMLRPC_PORT!g" \
  /tpls/etc/rtorrent/.rtlocal.rc > /etc/rtorrent/.rtlocal.rc

echo "Setting Nginx configuration..."
sed -e "s!@RUTORRENT_PORT@!$RUTORRENT_PORT!g" \
  -e "s!@XMLRPC_PORT@!$XMLRPC_PORT!g" \
  /tpls/etc/nginx/nginx.conf > /etc/nginx/nginx.conf
