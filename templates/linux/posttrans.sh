#!/bin/sh

# rpm before 4.12 passes unreliable arguments to %preun on upgrade, which could
# leave the service disabled: make sure it is enabled once the transaction ends.
if command -v systemctl >/dev/null 2>&1 && ! systemctl is-enabled orbit >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
{{- if .StartService }}
  if [ -z "${INSTALLER_PATH:-}" ]; then
    systemctl restart orbit.service 2>&1 || true
  else
    systemd-run --on-active=60 --working-directory=/ systemctl restart --no-block orbit.service 2>&1 || true
  fi
  systemctl enable orbit.service 2>&1 || true
{{- end }}
fi
