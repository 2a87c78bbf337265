// Package fakesession lets ci/'s tests run the module's functions without a
// Dagger engine. Imported (by tests only) for its side effect, it listens on
// a free port of 127.0.0.1 and sets DAGGER_SESSION_PORT and
// DAGGER_SESSION_TOKEN, which the generated client (internal/dagger) reads in
// its init and panics without. The tests serve a fake GraphQL endpoint on
// Listener.
//
// Go initialises packages in import-path order among those whose imports are
// ready (the Go spec, since Go 1.21); this package imports only packages that
// internal/dagger imports too, and "dagger/s-6-builder/fakesession" sorts
// before "dagger/s-6-builder/internal/dagger", so its init runs first. Keep
// both true when editing: otherwise the test binary panics at start.
package fakesession

import (
	"net"
	"os"
	"strconv"
)

// Token is the session token the client sends as the basic-auth user.
const Token = "s6builder-fake-session"

// Listener is where the fake endpoint must serve; nil with Err set when no
// port could be opened.
var (
	Listener net.Listener
	Err      error
)

func init() {
	// Always the fake, even inside a real session (dagger run go test):
	// the tests assert on what the fake endpoint records.
	Listener, Err = net.Listen("tcp", "127.0.0.1:0")
	port := "1" // an invalid endpoint: requests fail instead of init panicking
	if Err == nil {
		port = strconv.Itoa(Listener.Addr().(*net.TCPAddr).Port)
	}
	os.Setenv("DAGGER_SESSION_PORT", port)
	os.Setenv("DAGGER_SESSION_TOKEN", Token)
}
