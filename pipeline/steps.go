package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// An Exec's steps run in sequence in one container: one container start
// and one snapshot per stage instead of one per step. The steps stay
// visible by name: each is announced on its own log line, and a failing
// step says so before the container exits with its status:
//
//	s6builder step configure: ./configure --prefix=/ ...
//	s6builder step configure failed: exit status 1
//
// so the progress display shows where a build is and an error can name the
// step (FailedStep).
const (
	stepPrefix = "s6builder step "
	failedWord = " failed: exit status "
)

// stepFunction runs one step: name, dir, argv. A constant: the values reach
// it as positional parameters and are never parsed by the shell.
const stepFunction = `step() {
	s6b_name=$1 s6b_dir=$2
	shift 2
	echo "` + stepPrefix + `$s6b_name: $*"
	cd "$s6b_dir" || { echo "` + stepPrefix + `$s6b_name` + failedWord + `1 (no directory $s6b_dir)"; exit 1; }
	"$@"
	s6b_rc=$?
	[ "$s6b_rc" = 0 ] || { echo "` + stepPrefix + `$s6b_name` + failedWord + `$s6b_rc"; exit "$s6b_rc"; }
}
`

// Argv is the one command that runs the steps: for a single step, its argv
// (run in its Dir); for more, sh with a script made of positional
// references only ("${1}" "${2}" ...) and the steps' names, directories and
// arguments as the positional parameters.
func (e *Exec) Argv() (argv []string, dir string) {
	if len(e.Steps) == 1 {
		return e.Steps[0].Args, e.Steps[0].Dir
	}
	var script strings.Builder
	script.WriteString("set -u\n" + stepFunction)
	params := []string{}
	for _, st := range e.Steps {
		script.WriteString("step")
		for _, v := range append([]string{st.Name, st.Dir}, st.Args...) {
			params = append(params, v)
			fmt.Fprintf(&script, ` "${%d}"`, len(params))
		}
		script.WriteString("\n")
	}
	return append([]string{"sh", "-c", script.String(), "s6builder-steps"}, params...), "/"
}

// StepNames is "unpack, configure, make, strip, install": how a display
// names a stage's one container.
func (e *Exec) StepNames() string {
	names := make([]string, len(e.Steps))
	for i, st := range e.Steps {
		names[i] = st.Name
	}
	return strings.Join(names, ", ")
}

var failedStepRE = regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(stepPrefix) + `(.+?)` + regexp.QuoteMeta(failedWord) + `([0-9]+)`)

// FailedStep finds, in the log of an Exec's container, the step that
// failed and its exit status; ok is false when the log does not say (a
// single-step Exec, or a container that was killed).
func FailedStep(log string) (name, status string, ok bool) {
	m := failedStepRE.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return "", "", false
	}
	last := m[len(m)-1]
	return last[1], last[2], true
}

// Step returns the step with the given name, or nil.
func (e *Exec) Step(name string) *Step {
	for i := range e.Steps {
		if e.Steps[i].Name == name {
			return &e.Steps[i]
		}
	}
	return nil
}
