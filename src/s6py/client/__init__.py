"""Logic shared by the s6 client commands (s6-svc, s6-svstat, s6-svwait, s6-svlisten...)."""
