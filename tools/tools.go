//go:build tools

// Package tools pins the BuildKit daemon and client commands to the
// moby/buildkit version in go.mod, so scripts/testenv builds the same
// daemon the adapter was written against.
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
