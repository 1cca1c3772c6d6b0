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

# Find the person through the directory: the auth methods' accessors, then the entity of
# their alias.
path "sys/auth" {
  capabilities = ["read"]
}
path "identity/lookup/entity" {
  capabilities = ["update"]
}

# Ask Vault what they can read: every KV v2 mount, and sys/capabilities-accessor for each
# live token and for a probe token standing for their next login (docs/configuration.md:
# "What a person can read"). The probe is minted through the firebreak-probe token role and
# bound to the entity by a temporary alias on the token auth mount, removed afterwards.
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/capabilities-accessor" {
  capabilities = ["update"]
}
path "auth/token/create/firebreak-probe" {
  capabilities = ["update"]
}
path "identity/entity-alias" {
  capabilities = ["update"]
}
path "identity/entity-alias/id/*" {
  capabilities = ["delete"]
}
# What the next login through each auth method grants: userpass (and LDAP) users.
path "auth/+/users/*" {
  capabilities = ["read"]
}
# Add these for the auth methods you use (the sandbox's drills do not, so they are not
# granted here):
#   AppRole:   path "auth/approle/role" { capabilities = ["list"] }
#              path "auth/approle/role/*" { capabilities = ["read"] }      (role and role-id)
#   token:     path "auth/token/roles" { capabilities = ["list"] }
#              path "auth/token/roles/*" { capabilities = ["read"] }
#   OIDC/JWT:  path "auth/oidc/config" { capabilities = ["read"] }
#              path "auth/oidc/role" { capabilities = ["list"] }
#              path "auth/oidc/role/*" { capabilities = ["read"] }
# After the first cut Vault no longer answers for the person's tokens, so the inventory
# evaluates the policies of those tokens itself: it reads each ACL policy they carry.
path "sys/policies/acl/*" {
  capabilities = ["read"]
}
# Before the first cut firebreak captures, with the probe token, the resultant ACL Vault
# renders for the person's next login (sys/internal/ui/resultant-acl, in the default policy);
# after the cut it asks Vault which secrets those rules grant by writing them as a temporary
# policy for a 60-second token minted through the probe role, then deleting it (the policy
# holds only read and deny, and "list" where a rule has neither, so one left behind grants no
# writes). With the firebreak-probe role (allowed_policies_glob='*') and this grant, firebreak's
# Vault credential can mint tokens with any policy it writes: treat it as root-equivalent and
# guard it as such.
path "sys/policies/acl/firebreak-next-login-*" {
  capabilities = ["update", "delete"]  # writing a new policy needs update only (checked on OpenBao)
}
# Without the probe role firebreak evaluates entity and group policies itself too, which also
# needs:
#   path "identity/group/id/*" { capabilities = ["read"] }

# List every secret, rotate those secrets with check-and-set, marking each rotation in its
# custom metadata. Repeat for each KV v2 mount that holds secrets people read.
path "secret/metadata" {
  capabilities = ["list"]
}
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
