#!/bin/sh
set -e

# If we have a systemd, daemon-reload away now
if [ -x /bin/systemctl ] || command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
{{- if .StartService }}
  # Safe restart: when orbit upgrades itself (INSTALLER_PATH is set) it is the
  # caller of this script, so restart it later instead of killing it now.
  if [ -z "${INSTALLER_PATH:-}" ]; then
    systemctl restart orbit.service 2>&1 || true
  else
    systemd-run --on-active=60 --working-directory=/ systemctl restart --no-block orbit.service 2>&1 || true
  fi
  systemctl enable orbit.service 2>&1 || true
{{- end }}
fi
