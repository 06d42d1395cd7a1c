#!/bin/sh

# Stop the service only when the package goes away for good: dpkg passes
# remove/deconfigure, rpm passes the number of versions left (0 on erase, 1 on
# upgrade). fleetctl's script treats rpm's 1 as a removal and relies on its
# posttrans to re-enable the service after every upgrade.
case "${1:-}" in
  0|remove|deconfigure)
    systemctl disable --now orbit.service 2>/dev/null || true
    pkill fleet-desktop || true
    ;;
  1|upgrade)
    ;;
esac
