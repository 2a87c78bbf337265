package pipeline_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

// open returns a real file of this machine for CheckBinary.
func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestCheckBinaryOnThisMachinesFiles(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("SKIPPED: the expectations below are for linux/amd64 files")
	}
	self := staticBinary(t) // static, x86-64
	native := pipeline.Request{Platform: "linux/amd64"}
	assert.NoError(t, pipeline.CheckBinary(native, "bin/self", open(t, self)))

	err := pipeline.CheckBinary(pipeline.Request{Platform: "linux/s390x"}, "bin/s6-svscan", open(t, self))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bin/s6-svscan is a 64-bit little-endian X86_64 binary, but the request is for linux/s390x (64-bit big-endian S390)")

	err = pipeline.CheckBinary(pipeline.Request{Platform: "linux/arm/v7"}, "bin/x", open(t, self))
	assert.ErrorContains(t, err, "(32-bit little-endian ARM)")

	sh := "/bin/sh" // dynamically linked on Debian
	err = pipeline.CheckBinary(native, "bin/sh", open(t, sh))
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "dynamically linked") || strings.Contains(err.Error(), "needs shared libraries"), err.Error())
	assert.NoError(t, pipeline.CheckBinary(pipeline.Request{Platform: "linux/amd64", Dynamic: true}, "bin/sh", open(t, sh)))
}

func TestCheckBinaryLetsScriptsThrough(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "script")
	require.NoError(t, err)
	_, err = f.WriteString("#!/bin/sh\nexit 0\n")
	require.NoError(t, err)
	assert.NoError(t, pipeline.CheckBinary(pipeline.Request{Platform: "linux/s390x"}, "bin/script", f))
}

func TestEveryPlatformS6BuildsForHasAnELFTarget(t *testing.T) {
	for _, p := range []string{"linux/amd64", "linux/386", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/ppc64le", "linux/s390x", "linux/riscv64"} {
		_, err := pipeline.ELFTargetOf(p)
		assert.NoError(t, err, p)
	}
	_, err := pipeline.ELFTargetOf("linux/sparc64")
	assert.ErrorContains(t, err, "does not know its ELF machine")
}

// staticBinary builds a tiny static program for this machine.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	bin := filepath.Join(dir, "static")
	cmd := exec.Command("go", "build", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}
