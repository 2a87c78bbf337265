package pipeline

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ScanFinishPath is the finish script of s6-svscan, inside a service tree.
const ScanFinishPath = ".s6-svscan/finish"

// ServiceTree is what a front end read of a service tree (a local folder, a
// Dagger Directory): the service directories with whether each has an
// executable run file, and whether .s6-svscan/finish is executable. The
// rules s6-svscan needs live here, once, for every front end.
type ServiceTree struct {
	RunExecutable map[string]bool // service directory name -> run is executable
	HasScanFinish bool
}

// IsService reports whether a top-level entry of a service tree is a
// service directory: s6-svscan skips names that start with a dot.
func IsService(name string, isDir bool) bool { return isDir && !strings.HasPrefix(name, ".") }

// Check refuses a tree s6-svscan could not run: it needs one service at
// least, and every service an executable run file.
func (t ServiceTree) Check() error {
	if len(t.RunExecutable) == 0 {
		return errors.New("no service directories in it (one directory per service, each with an executable run file)")
	}
	names := make([]string, 0, len(t.RunExecutable))
	for n := range t.RunExecutable {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !t.RunExecutable[n] {
			return fmt.Errorf("service %q has no executable run file", n)
		}
	}
	return nil
}
