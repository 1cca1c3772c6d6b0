package main

import "github.com/firebreak-dev/firebreak/service"

// Local state and documents about runs are the owner's only (service.PrivateDir…).
func privateDir(dir string) error              { return service.PrivateDir(dir) }
func writePrivate(path string, b []byte) error { return service.WritePrivate(path, b) }
