Pi-hole admin (stand-in page)
