# The least privilege firebreak's Vault identity needs for the bundled playbooks. Attach it to
# the AppRole, Kubernetes role or token firebreak uses. KV v2 paths assume the mount "secret";
# change the prefix if your shared secrets live on another mount.

# Who is the subject, and cut them off.
path "identity/entity/name/*" {
  capabilities = ["read"]
}
path "identity/entity/id/*" {
  capabilities = ["read", "update"]
}

# Find a subject's tokens (listing accessors needs sudo), read their metadata, revoke them.
path "auth/token/accessors" {
  capabilities = ["list", "sudo"]
}
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# Work out which shared secrets the subject's policies could read.
path "sys/policies/acl/*" {
  capabilities = ["read"]
}

# Rotate those secrets with check-and-set, marking each rotation in its custom metadata.
path "secret/metadata/*" {
  capabilities = ["read", "list", "update"]
}
path "secret/data/*" {
  capabilities = ["read", "create", "update"]
}

# Secrets marked firebreak-rotate: database:database/ROLE — check the static role exists, have
# Vault rotate its password in the database, read the new credential into the KV copy. The
# mount is assumed to be "database". For database-root:MOUNT/CONNECTION also grant read on
# "database/config/*" and update on "database/rotate-root/*".
path "database/static-roles/*" {
  capabilities = ["read"]
}
path "database/rotate-role/*" {
  capabilities = ["update"]
}
path "database/static-creds/*" {
  capabilities = ["read"]
}

# A rotated IAM secret key goes straight into Vault (secret/aws/iam/<user>): create or update.
# Revoke a subject's dynamic credentials (database, AWS) by lease prefix: root-protected.
path "sys/leases/revoke-prefix/*" {
  capabilities = ["update", "sudo"]
}

# The lost-MFA case: destroy an entity's TOTP secret so they must enrol again.
path "identity/mfa/method/totp/admin-destroy" {
  capabilities = ["update"]
}
