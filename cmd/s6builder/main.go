// Command s6builder builds the s6 supervision suite (skalibs, execline, s6)
// from source on a BuildKit daemon, as a cached graph of container steps.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:   "s6builder",
		Short: "Build the s6 supervision suite from source as a cached BuildKit graph",
		Long: `s6builder builds skalibs, execline and s6 from their release tarballs on a
BuildKit daemon: fetch -> unpack -> build(skalibs) -> build(execline) -> build(s6)
-> merge -> export. Every stage is cached by its inputs, so a repeated build
re-executes nothing and a new s6 release rebuilds only s6.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(buildCmd(), planCmd(), versionsCmd(),
		platformsCmd(), imageCmd(), testCmd(), releaseCmd(), verifyCmd(), seedCmd(), overlayCmd())
	// Flag syntax (--jobs abc, an unknown flag) is bad input too: exit 2.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := refuseEmpty(cmd.Flags()); err != nil {
			return usageError{err}
		}
		return nil
	}
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "s6builder:", inputerr.Render(err, words))
		var ue usageError
		if errors.As(err, &ue) || inputerr.Is(err) || strings.HasPrefix(err.Error(), "unknown command") {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// words are how the CLI names the plan's request fields (its flags) and
// its commands, in the plan's refusals.
var words = inputerr.Words{
	Arg:     inputerr.Flag,
	Command: func(name string) string { return "s6builder " + name },
}

// usageError is bad input, reported with exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// noArgs refuses positional arguments as bad input (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
