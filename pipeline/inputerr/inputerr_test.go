package inputerr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

var cli = inputerr.Words{Arg: inputerr.Flag, Command: func(c string) string { return "s6builder " + c }}

func TestFlag(t *testing.T) {
	assert.Equal(t, "--s6", inputerr.Flag("s6"))
	assert.Equal(t, "--dist-prefix", inputerr.Flag("distPrefix"))
	assert.Equal(t, "--services-dir", inputerr.Flag("servicesDir"))
}

func TestRenderNamesFieldsAndCommandsInTheFrontEndsWords(t *testing.T) {
	e := inputerr.New("s6", "9.9.9.9", "unknown (give {arg:skalibs}; `{cmd:versions}` lists all)")
	assert.Equal(t, "s6 \"9.9.9.9\": unknown (give skalibs; `versions` lists all)", e.Error())
	assert.Equal(t, "--s6 \"9.9.9.9\": unknown (give --skalibs; `s6builder versions` lists all)", e.Render(cli))

	missing := inputerr.New("base", "", "required")
	assert.Equal(t, "--base: required", missing.Render(cli))
	whole := inputerr.New("", "", "see {arg:distPrefix}")
	assert.Equal(t, "see --dist-prefix", whole.Render(cli))
}

func TestRenderReachesWrappedAndJoinedErrors(t *testing.T) {
	a := inputerr.New("platform", "linux/x", "bad")
	b := inputerr.New("", "", "run {cmd:versions}")
	err := fmt.Errorf("plan: %w", errors.Join(a, fmt.Errorf("catalogue: %w", b)))
	assert.Equal(t, "plan: --platform \"linux/x\": bad\ncatalogue: run s6builder versions", inputerr.Render(err, cli))
	assert.True(t, inputerr.Is(err))
	assert.False(t, inputerr.Is(errors.New("daemon unreachable")))
	assert.Equal(t, "daemon unreachable", inputerr.Render(errors.New("daemon unreachable"), cli))
}

func TestValuesAreNotTemplates(t *testing.T) {
	e := inputerr.New("s6", "{arg:mirror}", "bad")
	assert.Equal(t, "--s6 \"{arg:mirror}\": bad", e.Render(cli))
}
