package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// seedSocket is where a daemon's socket is mounted into the s6builder
// image (buildkitd's default address).
const seedSocket = "/run/buildkit/buildkitd.sock"

// seedCmd is docker-s6builder's interface, the s6builder image's
// entrypoint: the versions from SKALIBS_VERSION, EXECLINE_VERSION and
// S6_VERSION (and the family's variables), the dist tree in DATA/s6dist and
// the sources in DATA/s6src, owned by DATA's owner.
func seedCmd() *cobra.Command {
	var (
		rf requestFlags
		a  buildArgs
	)
	cmd := &cobra.Command{
		Use:   "seed [DATA]",
		Short: "docker-s6builder's interface: build into DATA/s6dist and DATA/s6src (default /data), owned by DATA's owner",
		Long: `The entrypoint of the s6builder image, and the interface of docker-s6builder:

  docker run --rm --privileged -v "$PWD/data:/data" -e SKALIBS_VERSION=2.3.5.1 \
    -e EXECLINE_VERSION=2.1.2.2 -e S6_VERSION=2.1.6.0 s6builder

builds the versions SKALIBS_VERSION, EXECLINE_VERSION and S6_VERSION name (and
S6_RC_VERSION, S6_LINUX_INIT_VERSION, ... for the rest of the family; the
request flags of 'build' work too, and win over a variable) and writes the dist
tree (binaries, libraries, headers) to DATA/s6dist and the unpacked sources to
DATA/s6src, both owned by the owner of DATA. Both are replaced when they are
s6builder's; anything else there is refused (--force replaces it).

The daemon is BUILDKIT_HOST or --addr; else the socket of one mounted at
` + seedSocket + `; else a buildkitd started inside the container (which
needs --privileged). S6BUILDER_MIRROR, S6BUILDER_CATALOG and
S6BUILDER_TOOLCHAIN give a mirror, a catalogue and a toolchain for offline use.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			data := "/data"
			if len(args) == 1 {
				data = args[0]
			}
			st, err := os.Stat(data)
			if err != nil {
				return usageError{fmt.Errorf("%s: the data folder must exist (docker run -v HOST_DIR:%s): %w", data, data, err)}
			}
			if !st.IsDir() {
				return usageError{fmt.Errorf("%s is not a folder", data)}
			}
			a.output, a.sources = filepath.Join(data, "s6dist"), filepath.Join(data, "s6src")
			if a.addr == "" {
				if fi, err := os.Stat(seedSocket); err == nil && fi.Mode()&fs.ModeSocket != 0 {
					a.addr = "unix://" + seedSocket
				}
			}
			if err := build(cmd, &rf, a); err != nil {
				if inputerr.Is(err) { // in the seed's words: it has no --output or --sources
					return usageError{errors.New(inputerr.Render(err, seedWords))}
				}
				return err
			}
			sys, ok := st.Sys().(*syscall.Stat_t)
			if !ok {
				return nil
			}
			for _, dir := range []string{a.output, a.sources} {
				if err := chownTree(dir, int(sys.Uid), int(sys.Gid)); err != nil {
					return fmt.Errorf("giving %s to the owner of %s (%d:%d): %w", dir, data, sys.Uid, sys.Gid, err)
				}
			}
			return nil
		},
	}
	rf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&a.addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST (default: the socket mounted at "+seedSocket+", else a daemon of its own)")
	f.BoolVar(&a.force, "force", false, "replace DATA/s6dist and DATA/s6src even when they are not s6builder outputs")
	progressVar(f, &a.progress)
	cacheVars(f, &a.cache)
	return cmd
}

// chownTree gives every entry of dir (links themselves, not what they
// point to) to uid:gid, unless it is theirs already.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if s, ok := info.Sys().(*syscall.Stat_t); ok && int(s.Uid) == uid && int(s.Gid) == gid {
			return nil
		}
		if err := os.Lchown(path, uid, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// seedWords name the seed's outputs as its interface does: DATA/s6dist
// and DATA/s6src, not build's flags.
var seedWords = inputerr.Words{
	Arg: func(field string) string {
		switch field {
		case "output":
			return "DATA/s6dist"
		case "sources":
			return "DATA/s6src"
		}
		return inputerr.Flag(field)
	},
	Command: words.Command,
}
