//go:build unix

package realserver

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd in its own process group: the pyenv shim of moto_server forks.
func setProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
