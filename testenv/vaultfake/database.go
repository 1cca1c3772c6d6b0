package vaultfake

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// vaultDB is the sandbox's database secrets engines (mount → state); v.mu guards it.
type vaultDB map[string]*vaultDBMount

type vaultDBMount struct {
	conns map[string]*vaultDBConn
	roles map[string]*vaultDBRole
}

type vaultDBConn struct {
	user, password string
}

type vaultDBRole struct {
	conn, username, password string
	rotated                  time.Time
	rotations                int
}

// seedDatabases mounts org's databases; called from New.
func (v *Vault) seedDatabases(org *seed.Org) {
	v.db = vaultDB{}
	for _, d := range org.Databases {
		m := v.db[d.Mount]
		if m == nil {
			m = &vaultDBMount{conns: map[string]*vaultDBConn{}, roles: map[string]*vaultDBRole{}}
			v.db[d.Mount] = m
		}
		m.conns[d.Connection] = &vaultDBConn{user: d.RootUser, password: d.RootPassword}
		for _, r := range d.StaticRoles {
			m.roles[r.Name] = &vaultDBRole{conn: d.Connection, username: r.Username, password: r.Password, rotated: v.started}
		}
	}
}

// DatabaseLogin reports whether username logs in to the database behind mount with password,
// as the database would answer: a static role's user with its current password, or the root
// user with the connection's.
func (v *Vault) DatabaseLogin(mount, username, password string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.db[mount]
	if m == nil {
		return false
	}
	for _, r := range m.roles {
		if r.username == username {
			return r.password == password
		}
	}
	for _, c := range m.conns {
		if c.user == username {
			return c.password == password
		}
	}
	return false
}

// DatabaseRotations returns how many times Vault rotated the static role's password.
func (v *Vault) DatabaseRotations(mount, role string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m := v.db[mount]; m != nil && m.roles[role] != nil {
		return m.roles[role].rotations
	}
	return 0
}

// routeDatabase serves the database engine endpoints firebreak uses, answering as OpenBao
// 2.x does (checked by the conformance test against OpenBao with PostgreSQL):
// GET MOUNT/static-roles/ROLE, GET MOUNT/static-creds/ROLE, POST MOUNT/rotate-role/ROLE,
// GET MOUNT/config/NAME and POST MOUNT/rotate-root/NAME. It reports false when the path is
// not under a database mount. v.mu is held.
func (v *Vault) routeDatabase(w http.ResponseWriter, req *vaultRequest) bool {
	var m *vaultDBMount
	var mount, rest string
	for name, dm := range v.db {
		if r, ok := strings.CutPrefix(req.path, name+"/"); ok {
			m, mount, rest = dm, name, r
		}
	}
	if m == nil {
		return false
	}
	op, name, _ := strings.Cut(rest, "/")
	switch {
	case op == "static-roles" && name != "":
		if !vaultAllow(w, req, "GET") {
			return true
		}
		r := m.roles[name]
		if r == nil {
			vaultError(w, http.StatusNotFound)
			return true
		}
		vaultRespond(w, http.StatusOK, map[string]any{
			"credential_type": "password", "db_name": r.conn, "last_vault_rotation": r.rotated.Format(time.RFC3339Nano),
			"rotation_period": 86400, "rotation_statements": []any{}, "username": r.username,
		}, nil)
	case op == "static-creds" && name != "":
		if !vaultAllow(w, req, "GET") {
			return true
		}
		r := m.roles[name]
		if r == nil {
			vaultError(w, http.StatusBadRequest, "unknown role: "+name)
			return true
		}
		vaultRespond(w, http.StatusOK, map[string]any{
			"last_vault_rotation": r.rotated.Format(time.RFC3339Nano), "password": r.password,
			"rotation_period": 86400, "ttl": 86400, "username": r.username,
		}, nil)
	case op == "rotate-role" && name != "":
		if !vaultAllow(w, req, "POST") {
			return true
		}
		r := m.roles[name]
		if r == nil {
			vaultError(w, http.StatusBadRequest, "no static role found for role name")
			return true
		}
		r.password = vaultDBPassword()
		r.rotated = time.Now().UTC()
		r.rotations++
		w.WriteHeader(http.StatusNoContent)
	case op == "config" && name != "":
		if !vaultAllow(w, req, "GET") {
			return true
		}
		c := m.conns[name]
		if c == nil {
			vaultError(w, http.StatusNotFound)
			return true
		}
		vaultRespond(w, http.StatusOK, map[string]any{
			"allowed_roles": []any{"*"}, "password_policy": "", "plugin_name": "postgresql-database-plugin", "plugin_version": "",
			"root_credentials_rotate_statements": []any{},
			"connection_details":                 map[string]any{"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres", "username": c.user},
		}, nil)
	case op == "rotate-root" && name != "":
		if !vaultAllow(w, req, "POST") {
			return true
		}
		c := m.conns[name]
		if c == nil {
			vaultError(w, http.StatusInternalServerError, fmt.Sprintf("1 error occurred:\n\t* failed to find entry for connection with name: %q\n\n", name))
			return true
		}
		c.password = vaultDBPassword()
		w.WriteHeader(http.StatusNoContent)
	default:
		vaultError(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", mount+"/"+rest))
	}
	return true
}

// vaultDBPassword is a new database password as Vault's default password policy makes one
// (20 characters), marked with the canary: it is secret material.
func vaultDBPassword() string {
	return fakebase.NewCanaryValue("A1a-", "", 6)
}

// vaultCustomMetadata copies a seeded secret's custom_metadata; nil stays nil, as Vault
// answers for a secret that has none.
func vaultCustomMetadata(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
