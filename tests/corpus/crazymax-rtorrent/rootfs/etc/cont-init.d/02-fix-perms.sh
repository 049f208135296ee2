#!/usr/bin/with-contenv sh

echo "Fixing perms..."
mkdir -p /data/rtorrent \
  /data/rutorrent \
  /downloads \
  /passwd \
  /etc/rtorrent \
  /var/run/nginx \
  /var/run/php-fpm \
  /var/run/rtorrent
chown rtorrent: \
  /data \
  /data/rtorrent \
  /data/rutorrent \
  /downloads
chown -R rtorrent: \
  /etc/rtorrent \
  /passwd \
  /tpls \
  /var/run/nginx \
  /var/run/php-fpm \
  /var/run/rtorrent
