// Package version parses and orders skarnet release numbers.
//
// skarnet numbers every release of skalibs, execline and s6 with exactly four
// dot-separated decimal components (MAJOR.MINOR.PATCH.BUGFIX, e.g. 2.1.6.0).
// Versions reach file names, URLs and build arguments, so the parser is strict:
// anything else is refused with an error that quotes the input.
package version

import (
	"fmt"
	"strconv"
	"strings"
)

// maxComponent bounds each component; skarnet's largest so far is 15.
const maxComponent = 9999

// Version is a parsed four-component skarnet version.
type Version [4]int

// Parse reads "A.B.C.D". It refuses signs, spaces, leading zeros, empty or
// overlong components and anything that is not four decimal numbers.
func Parse(s string) (Version, error) {
	var v Version
	if s == "" {
		return v, fmt.Errorf("empty version: want four numbers like 2.1.6.0")
	}
	if len(s) > 32 {
		return v, fmt.Errorf("version %.32q... is too long: want four numbers like 2.1.6.0", s)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return v, fmt.Errorf("version %q: want four dot-separated numbers like 2.1.6.0", s)
	}
	for i, p := range parts {
		if p == "" || len(p) > 4 || (len(p) > 1 && p[0] == '0') || strings.Trim(p, "0123456789") != "" {
			return v, fmt.Errorf("version %q: component %q is not a plain decimal number", s, p)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > maxComponent {
			return v, fmt.Errorf("version %q: component %q is out of range", s, p)
		}
		v[i] = n
	}
	return v, nil
}

// MustParse is Parse for constants in tests and tables; it panics on error.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d.%d", v[0], v[1], v[2], v[3])
}

// Compare returns -1, 0 or +1.
func (v Version) Compare(w Version) int {
	for i := range v {
		switch {
		case v[i] < w[i]:
			return -1
		case v[i] > w[i]:
			return 1
		}
	}
	return 0
}

// Less reports v < w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// AtLeast reports v >= w.
func (v Version) AtLeast(w Version) bool { return v.Compare(w) >= 0 }

// Minor is the release line, e.g. "2.1" for 2.1.6.0.
func (v Version) Minor() string { return fmt.Sprintf("%d.%d", v[0], v[1]) }

// IsZero reports whether v is the zero value (no version).
func (v Version) IsZero() bool { return v == Version{} }
