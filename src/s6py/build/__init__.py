"""Packaging: the overlay tarball (`s6py build-overlay`)."""
