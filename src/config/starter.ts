/** What `certs init` writes: small, valid as is, and pointing at the full example. */
export const STARTER_CONFIG = `# certs configuration. Every option is documented in config/certs.example.yaml.
# Relative paths are relative to the folder of this file.
# Secrets can come from the environment or a file: "\${env:SMTP_PASS}", "\${file:./smtp-pass}".

# SQLite database, issued certificates and ACME account keys.
dataDir: ./data

scan:
  concurrency: 64 # endpoints probed at the same time
  timeoutMs: 5000 # TLS handshake budget per endpoint
  warningDays: 30 # "expiring-soon" from this many days left
  criticalDays: 7 # ...and critical from this many

# What to check (and, once ACME is configured, renew). Add entries with
# \`certs add <name>\` or by hand, for example:
#
#   - name: example.com              # primary name on the certificate
#     altNames: [www.example.com]    # more names on the same certificate
#     managed: false                 # monitor only (default true: also renew through ACME)
#     endpoints:                     # default: [{host: <name>, port: 443}]
#       - {host: example.com, port: 443}
#       - {host: example.com, port: 443, address: 203.0.113.7}  # dial this IP, send the name as SNI
#     files: {cert: /etc/ssl/example.pem, key: /etc/ssl/example.key}
domains: []
`;
