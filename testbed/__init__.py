"""Local Debian hosts for development and tests: systemd-nspawn containers in network namespaces."""
