package main

import (
	"errors"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// words are how a Dagger user names the plan's request fields and the
// module's functions: as `dagger call` spells them (--services-dir,
// `dagger call versions`).
var words = inputerr.Words{
	Arg:     inputerr.Flag,
	Command: func(name string) string { return "dagger call " + name },
}

// inWords returns v and err with the plan's refusals in err rendered in the
// module's words; every function's error goes through it.
func inWords[T any](v T, err error) (T, error) {
	if err == nil {
		return v, nil
	}
	return v, errors.New(inputerr.Render(err, words))
}
