#!/bin/sh

# Only when the package is removed for good (rpm: 0 left; deb: remove/purge),
# never on upgrade.
if [ "${1:-}" = "0" ] || [ "${1:-}" = "remove" ] || [ "${1:-}" = "purge" ]; then
  rm -rf /var/lib/orbit /var/log/orbit /usr/local/bin/orbit /etc/default/orbit /usr/lib/systemd/system/orbit.service /opt/orbit
fi
