// Package inputerr describes refused input in front-end-neutral terms. The
// plan names the request field that was wrong (as the plan and the Dagger
// API spell it: "s6", "platform", "servicesDir") and, where it helps, a
// command by its name ("versions"); each front end renders them in its own
// words: `--services-dir` and `s6builder versions` for the CLI,
// `--services-dir` and `dagger call versions` for the Dagger module.
package inputerr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Error refuses the value of one request field (or, with Field empty, the
// request as a whole). Reason may refer to other fields as {arg:field} and
// to front-end commands as {cmd:name}; they are rendered with the words of
// the front end. Value is quoted as given and never interpreted.
type Error struct {
	Field  string
	Value  string // "" when the field is missing or its value goes unshown
	Reason string
}

// New returns an *Error for field's value; reason is a fmt format.
func New(field, value, reason string, args ...any) *Error {
	return &Error{Field: field, Value: value, Reason: fmt.Sprintf(reason, args...)}
}

// Words are how a front end names request fields and its own commands.
type Words struct {
	Arg     func(field string) string // "servicesDir" -> "--services-dir"
	Command func(name string) string  // "versions" -> "s6builder versions"
}

// Plain names fields and commands as the plan does; Error() uses it.
var Plain = Words{
	Arg:     func(f string) string { return f },
	Command: func(c string) string { return c },
}

// Flag spells a field as a command-line flag: "servicesDir" -> "--services-dir".
// The CLI and `dagger call` both spell arguments so.
func Flag(field string) string {
	var b strings.Builder
	b.WriteString("--")
	for _, r := range field {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

var ref = regexp.MustCompile(`\{(arg|cmd):([A-Za-z0-9]+)\}`)

// Render returns the message in w's words.
func (e *Error) Render(w Words) string {
	reason := ref.ReplaceAllStringFunc(e.Reason, func(m string) string {
		s := ref.FindStringSubmatch(m)
		if s[1] == "arg" {
			return w.Arg(s[2])
		}
		return w.Command(s[2])
	})
	switch {
	case e.Field == "":
		return reason
	case e.Value == "":
		return w.Arg(e.Field) + ": " + reason
	default:
		return fmt.Sprintf("%s %q: %s", w.Arg(e.Field), e.Value, reason)
	}
}

func (e *Error) Error() string { return e.Render(Plain) }

// Render returns err's message with every *Error in its chain rendered in
// w's words, whatever wraps them.
func Render(err error, w Words) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, e := range all(err) {
		msg = strings.Replace(msg, e.Error(), e.Render(w), 1)
	}
	return msg
}

// Is reports whether err's chain holds an *Error: input was refused.
func Is(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// all returns the *Errors in err's chain, outermost first.
func all(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if e, ok := err.(*Error); ok {
				out = append(out, e)
			}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, x := range j.Unwrap() {
					walk(x)
				}
				return
			}
			err = errors.Unwrap(err)
		}
	}
	walk(err)
	return out
}
