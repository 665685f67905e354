#!/usr/bin/env bash
# Fails if a function's arm64 release graph links a second TLS stack or crypto provider.
# Sluice's one stack is hyper 1 + rustls 0.23 with the ring provider (the AWS SDK's client as
# sluice_runtime::aws::http_client builds it; reqwest shares it). The SDK's default features
# bring hyper 0.14 + rustls 0.21 beside it, and aws-lc-rs as a second provider.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(hyper v0\.|hyper-rustls v0\.(1|2[0-6])\.|rustls v0\.(1|2[0-2])\.|aws-lc-rs v|aws-lc-sys v|aws-lc-fips-sys v|openssl v|openssl-sys v|native-tls v|s2n-tls v)'
status=0
for dir in functions/*/; do
  pkg=$(basename "$dir")
  graph=$(cargo tree --locked -p "$pkg" -e normal,build --target aarch64-unknown-linux-gnu \
    --prefix none --format '{p}' | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u)
  extra=$(grep -E "$forbidden" <<<"$graph" || true)
  rustls=$(grep -cE '^rustls v' <<<"$graph" || true)
  provider=$(grep -cE '^ring v' <<<"$graph" || true)
  if [ -n "$extra" ] || [ "$rustls" -gt 1 ] || [ "$provider" -gt 1 ]; then
    echo "one-tls-stack: $pkg links more than one TLS stack or crypto provider:"
    sed 's/^/  /' <<<"$extra"
    grep -E '^(rustls|ring) v' <<<"$graph" | sed 's/^/  /'
    status=1
  else
    printf 'one-tls-stack: %-22s %s\n' "$pkg" "$(grep -E '^(hyper|rustls|ring) v' <<<"$graph" | tr '\n' ' ')"
  fi
done
exit "$status"
