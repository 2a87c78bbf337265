//go:build tools

// Package tools pins Dagger's codegen at the engine version in dagger.json,
// so that scripts/dagger-check regenerates ci/'s generated code offline,
// exactly as the engine does. It is built with
//
//	go build -o BIN/codegen github.com/dagger/dagger/cmd/codegen
//
// from this folder; introspection-v0.21.8-module.json beside it is the
// schema codegen generates from (the v0.21.8 API as modules see it).
package tools

import _ "github.com/dagger/dagger/cmd/codegen"
