"""transmission-daemon -g CONFIG -c WATCH -f: RPC on the settings' rpc-port; a request
line EXIT (what the transmission-remote stand-in sends) ends the session cleanly."""
import os
import re
import socket
import sys

config = sys.argv[sys.argv.index("-g") + 1]
settings = open(os.path.join(config, "settings.json")).read()


def setting(key):
    return re.search(r'"%s":\s*("?)([^",]*)\1' % re.escape(key), settings).group(2)


port = int(setting("rpc-port"))
with open(os.path.join(config, "stats.json"), "w") as f:        # the session writes as abc
    f.write("{}\n")
print("transmission stand-in: RPC on %d, auth %s, uid %d"
      % (port, setting("rpc-authentication-required"), os.getuid()), flush=True)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(8)
while True:
    conn, _ = srv.accept()
    with conn:
        request = conn.recv(4096)
        if request.startswith(b"EXIT"):
            conn.sendall(b"session closing\n")
            print("transmission stand-in: session closed by transmission-remote", flush=True)
            sys.exit(0)
        body = "transmission stand-in auth=%s user=%s uid=%d\n" % (
            setting("rpc-authentication-required"), setting("rpc-username"), os.getuid())
        conn.sendall(("HTTP/1.0 200 OK\r\n\r\n" + body).encode())
