#!/bin/sh
# One-shot `tls-init` service of docker-compose.yml: makes a self-signed development
# certificate for the TLS front on first start, and keeps it afterwards (delete the volume,
# or the files, to make a new one). Production: put your own certificate at
# $CERT_DIR/usher.pem (certificate chain then key, the form HAProxy reads).
set -eu
CERT_DIR="${CERT_DIR:-/certs}"
HOST="${PUBLIC_HOST:-localhost}"
if [ -s "$CERT_DIR/usher.pem" ]; then
  echo "tls-init: $CERT_DIR/usher.pem exists, kept"
  exit 0
fi
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
  -subj "/CN=$HOST" \
  -addext "subjectAltName=DNS:$HOST,DNS:localhost,IP:127.0.0.1" \
  -keyout "$CERT_DIR/usher.key" -out "$CERT_DIR/usher.crt" 2>/dev/null
cat "$CERT_DIR/usher.crt" "$CERT_DIR/usher.key" > "$CERT_DIR/usher.pem"
# HAProxy's image runs as an unprivileged user (uid 99): it must read the pem. Only the
# front's container mounts this volume.
chmod 0644 "$CERT_DIR/usher.pem" "$CERT_DIR/usher.crt"
echo "tls-init: made a self-signed certificate for $HOST in $CERT_DIR (trust usher.crt in your browser)"
