package dnsfakes

import "os/exec"

// runScript runs a script and returns its error.
func runScript(path string, args ...string) error {
	return exec.Command(path, args...).Run()
}
