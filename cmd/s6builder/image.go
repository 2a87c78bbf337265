package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/release"
)

func imageCmd() *cobra.Command {
	var (
		rf                            requestFlags
		services, base, output, push  string
		dist, servicesDir             string
		addr, progress                string
		force, distImage              bool
		epoch                         int64
		cache                         bk.Cache
		initKind, rcDir, bundle, user string
		graceMS                       int
		overlayVersion, root          string
	)
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build a container image with s6-svscan as PID 1 over a service tree",
		Long: `Build an image from --base with the s6 and execline binaries (built from the
request for --prefix, /usr/local by default, or taken from --dist), the service tree --services at /etc/s6, an
.s6-svscan/finish when the tree has none, PATH set so s6-svscan finds
s6-supervise, s6-svscan as the entrypoint and SIGTERM as the stop signal.
With --platform P,Q the image is multi-platform (an OCI index, one image per
platform, each with that platform's base and its cross-compiled dist): the
base must offer every platform.

With --dist-image the image is the dist alone, FROM scratch, for a
Dockerfile's COPY --from=IMAGE / / (its programs in PREFIX/bin, /usr/local/bin
by default); every time in it is --source-date-epoch, so the same request
gives the same digest.`,
		Example: `  s6builder image --s6 2.1.6.0 --services ./etc/s6 --base debian:bookworm-slim --output image.tar
  s6builder image --s6 2.15.1.0 --platform linux/amd64,linux/arm64 --services ./etc/s6 --base debian:bookworm-slim --push registry.example.com/app:s6
  s6builder image --s6 2.15.1.0 --platform linux/amd64,linux/arm64 --dist-image --push registry.example.com/s6:2.15.1.0
  s6builder image --dist ./debian-s6 --prefix /usr --services ./etc/s6 --base REF --push registry.example.com/app:s6
  s6builder image --init s6-overlay --s6-overlay 3.2.3.2 --root ./root --base debian:bookworm-slim --output image.tar`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" && push == "" {
				return usageError{fmt.Errorf("give --output FILE (an OCI archive) and/or --push NAME")}
			}
			if epoch < 0 {
				return usageError{inputerr.New("source-date-epoch", strconv.FormatInt(epoch, 10), "want seconds since 1970")}
			}
			if initKind == pipeline.InitS6Overlay {
				given := map[string]bool{"services": services != "", "dist": dist != "", "rc": rcDir != "", "bundle": bundle != "", "user": user != "",
					"graceTime": graceMS != 0, "distImage": distImage, "servicesDir": cmd.Flags().Changed("services-dir")}
				for _, name := range []string{"s6", "skalibs", "execline", "configure", "multicall", "dynamic", "prefix", "cc", "emulate"} {
					given[name] = cmd.Flags().Changed(name)
				}
				for flag, set := range given {
					if set {
						return usageError{inputerr.New(flag, "", "an s6-overlay image holds what the s6-overlay release is made of ({arg:with} PKG=VERSION changes one), and the tree {arg:root}: leave {arg:%s} out", flag)}
					}
				}
				return overlayImage(cmd, &rf, overlayImageFlags{version: overlayVersion, base: base, root: root, output: output, push: push,
					force: force, addr: addr, progress: progress, epoch: epoch, cache: cache})
			} else if cmd.Flags().Changed("s6-overlay") || root != "" {
				return usageError{inputerr.New("s6Overlay", overlayVersion, "{arg:s6Overlay} and {arg:root} make an s6-overlay image: give {arg:init} %s", pipeline.InitS6Overlay)}
			}
			var (
				spec  pipeline.ImageSpec
				cat   *catalog.Catalog
				reqs  []pipeline.Request
				plans []*pipeline.Plan
				err   error
			)
			rc := pipeline.RcImage{Base: base, Bundle: bundle, User: user, GraceMS: graceMS}
			rcMode := false
			switch initKind {
			case "s6-svscan":
				for flag, set := range map[string]bool{"rc": rcDir != "", "bundle": bundle != "", "user": user != "", "graceTime": graceMS != 0} {
					if set {
						return usageError{inputerr.New(flag, "", "it is for an s6-rc image: give {arg:init} %s", pipeline.InitS6Rc)}
					}
				}
			case pipeline.InitS6Rc:
				rcMode = true
			default:
				return usageError{inputerr.New("init", initKind, "want s6-svscan (PID 1 over a flat service tree), %s (s6-linux-init, then an s6-rc bundle) or %s (s6-overlay's /init)", pipeline.InitS6Rc, pipeline.InitS6Overlay)}
			}
			if rcMode {
				for flag, set := range map[string]bool{"services": services != "", "dist": dist != "", "servicesDir": cmd.Flags().Changed("services-dir"), "distImage": distImage} {
					if set {
						return usageError{inputerr.New(flag, "", "an s6-rc image builds its dist and takes its services from {arg:rc}: leave {arg:%s} out", flag)}
					}
				}
				if err := checkRc(rcDir, bundle); err != nil {
					return usageError{err}
				}
				if base == "" {
					return usageError{inputerr.New("base", "", "an image reference is required (any distribution with /bin/sh: stage 2 is a shell script)")}
				}
			} else if distImage {
				for flag, set := range map[string]bool{"services": services != "", "base": base != "", "dist": dist != "", "servicesDir": cmd.Flags().Changed("services-dir")} {
					if set {
						return usageError{inputerr.New(flag, "", "a {arg:distImage} is the dist alone, FROM scratch: leave {arg:%s} out", flag)}
					}
				}
			} else {
				hasFinish, err := checkServices(services)
				if err != nil {
					return usageError{err}
				}
				if m, ok := bk.ReadMarker(dist); dist != "" && ok && m.Prefix != "" {
					// s6builder's own dist says what it was built for.
					if cmd.Flags().Changed("prefix") && rf.prefix != m.Prefix {
						return usageError{inputerr.New("prefix", rf.prefix, "the --dist tree was built for prefix %s (its %s says so)", m.Prefix, bk.MarkerName)}
					}
					rf.prefix = m.Prefix
				}
				if spec, err = pipeline.NewImage(pipeline.ImageRequest{Base: base, Prefix: rf.prefix, ServicesDir: servicesDir, HasScanFinish: hasFinish}); err != nil {
					return usageError{err}
				}
			}
			if dist == "" {
				// --platform P,Q: one image per platform, in an OCI index.
				var req pipeline.Request
				if cat, req, err = rf.load(); err != nil {
					return err
				}
				if reqs, err = pipeline.Matrix(req); err != nil {
					return usageError{err}
				}
				if strings.Contains(req.S6, ",") {
					return usageError{inputerr.New("s6", req.S6, "an image holds one s6 release: give one")}
				}
				for _, r := range reqs {
					p, err := pipeline.New(cat, r)
					if err != nil {
						return usageError{err} // refused before any work
					}
					plans = append(plans, p)
				}
			} else if fi, err := os.Stat(filepath.Join(dist)); err != nil || !fi.IsDir() {
				return usageError{fmt.Errorf("--dist %q: not a directory", dist)}
			} else if strings.Contains(rf.platform, ",") {
				return usageError{inputerr.New("platform", rf.platform, "a --dist directory is one platform's: give one, or build the dists (leave --dist out)")}
			}
			if rcMode {
				for _, p := range plans {
					if spec, err = pipeline.AddRcImage(p, rc); err != nil {
						return usageError{err}
					}
				}
			}
			if distImage {
				if spec, err = pipeline.NewDistImage(plans); err != nil {
					return err
				}
				if epoch == 0 {
					// Same inputs, same digest: the time is the inputs'.
					if epoch, err = release.SourceDateEpoch(plans); err != nil {
						return usageError{err}
					}
				}
			}
			in := bk.ImageInput{Spec: spec, Services: services, DistDir: dist, Platform: rf.platform}
			if rcMode {
				in.Locals = map[string]string{pipeline.LocalRc: rcDir}
			}
			if err := checkImageDestinations(push, output, force); err != nil {
				return err
			}
			c, stop, err := connect(cmd, addr, append(rf.toolchainRefs(), base, push)...)
			if err != nil {
				return err
			}
			defer stop()
			if in.Plans, err = plansOnDaemon(cmd.Context(), c, cat, reqs); err != nil {
				return err
			}
			for _, p := range in.Plans {
				if rcMode {
					if _, err := pipeline.AddRcImage(p, rc); err != nil {
						return err
					}
				}
			}
			start := time.Now()
			rep, err := bk.BuildImage(cmd.Context(), c.Client, in, bk.ImageOptions{OCIArchive: output, Push: push, Force: force,
				InsecurePush: loopbackRegistry(push) != "", Progress: progress, Cache: cache, SourceDateEpoch: epoch})
			if err != nil {
				return c.explain(err)
			}
			warnCacheImports(rep)
			executed, cached := rep.Counts()
			what := fmt.Sprintf("entrypoint %v", spec.Entrypoint)
			if spec.DistOnly {
				what = "the dist alone, programs in " + path.Join(spec.Prefix, "bin")
			}
			fmt.Fprintf(os.Stderr, "s6builder: image in %.1fs (%d steps executed, %d cached): %s\n",
				time.Since(start).Seconds(), executed, cached, what)
			return nil
		},
	}
	rf.defaultPrefix = pipeline.DefaultImagePrefix
	rf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&services, "services", "", "local service tree (one directory per service, each with a run file)")
	f.StringVar(&base, "base", "", "base image reference (any distribution)")
	f.StringVarP(&output, "output", "o", "", "write the image as an OCI archive to this file (atomically)")
	f.StringVar(&push, "push", "", "push the image to this name")
	f.BoolVar(&force, "force", false, "overwrite --output even when it is not an OCI archive")
	f.StringVar(&dist, "dist", "", "use this local dist tree instead of building one (e.g. your own s6 binaries): it goes at /, its programs under --prefix (an s6builder dist says its own)")
	f.StringVar(&initKind, "init", "s6-svscan", "what PID 1 runs: s6-svscan over --services; s6-rc: s6-linux-init in container mode, then the s6-rc bundle --bundle of --rc (needs --with s6-rc,s6-linux-init); or s6-overlay: s6-overlay's /init, the release --s6-overlay, your tree --root")
	f.StringVar(&overlayVersion, "s6-overlay", "", "with --init s6-overlay: the s6-overlay release, built from source for every --platform")
	f.StringVar(&root, "root", "", "with --init s6-overlay: a tree of yours copied at / (etc/s6-overlay/s6-rc.d, etc/s6-overlay/user-bundles.d, etc/cont-init.d, etc/services.d...), as your Dockerfile's COPY would")
	f.StringVar(&rcDir, "rc", "", "with --init s6-rc: the s6-rc source tree (one directory per service or bundle, each with a type file), compiled at build time")
	f.StringVar(&bundle, "bundle", "", "with --init s6-rc: the service or bundle brought up at boot (default: "+pipeline.DefaultBundle+")")
	f.StringVar(&user, "user", "", "with --init s6-rc: UID[:GID] the container runs as (it owns /run in the image; give a read-only root a tmpfs at /run)")
	f.IntVar(&graceMS, "grace-time", 0, "with --init s6-rc: milliseconds between the last SIGTERM and SIGKILL at shutdown (default: 3000)")
	f.BoolVar(&distImage, "dist-image", false, "an image of the dist alone, FROM scratch (no base, no services, no entrypoint), to COPY --from=IMAGE / / into any image; reproducible: the same digest from the same request")
	f.Int64Var(&epoch, "source-date-epoch", envEpoch(), "set every time in the image to this, in seconds since 1970, for the same digest twice (default: env SOURCE_DATE_EPOCH; for --dist-image, else the day the newest source release was tagged)")
	f.StringVar(&servicesDir, "services-dir", pipeline.DefaultServicesDir, "where the service tree goes in the image")
	f.StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST")
	progressVar(f, &progress)
	cacheVars(f, &cache)
	return cmd
}

// checkImageDestinations refuses, before any work, an image name --push
// could not take and an --output file that is not an OCI archive.
func checkImageDestinations(push, output string, force bool) error {
	if push != "" {
		if _, err := reference.ParseNormalizedNamed(push); err != nil {
			return usageError{inputerr.New("push", push, "not an image name: %v", err)}
		}
	}
	if output != "" {
		if err := bk.CheckOutputs([]bk.Output{{Field: "output", Path: output, File: true}}, force); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// checkServices reads a local service tree and applies pipeline's rules,
// before any work; it says whether the tree has its own .s6-svscan/finish.
func checkServices(dir string) (hasFinish bool, err error) {
	if dir == "" {
		return false, fmt.Errorf("--services: a service tree directory is required")
	}
	lt, err := openLocalTree(dir)
	if err != nil {
		return false, fmt.Errorf("--services: %w", err)
	}
	defer lt.root.Close()
	tree, err := pipeline.ReadServiceTree(lt)
	if err != nil {
		return false, fmt.Errorf("--services: %w", err)
	}
	if err := tree.Check(); err != nil {
		return false, fmt.Errorf("--services %s: %w", dir, err)
	}
	return tree.HasScanFinish, nil
}

// localTree is a local folder as pipeline's tree checks read it; links
// are followed only inside it.
type localTree struct {
	dir  string
	root *os.Root
}

func openLocalTree(dir string) (*localTree, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &localTree{dir: dir, root: root}, nil
}

func (l *localTree) TopDirs() ([]string, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil
}

func (l *localTree) RegularFile(name string) (bool, error) {
	fi, err := l.root.Stat(name)
	return err == nil && fi.Mode().IsRegular(), nil
}

func (l *localTree) Executable(name string) (bool, error) {
	fi, err := l.root.Stat(name)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0, nil
}

func (l *localTree) Entries() ([]pipeline.TreeEntry, error) { return treeEntries(l.dir) }

// Names and ReadFile see only a directory or regular file of the tree
// itself (no link is followed, nothing unreadable is an error): what is
// not is refused by the check of the tree's entries, with its own words.
func (l *localTree) Names(dir string) ([]string, error) {
	if fi, err := l.root.Lstat(dir); err != nil || !fi.IsDir() {
		return nil, nil
	}
	f, err := l.root.Open(dir)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if errors.Is(err, fs.ErrPermission) {
		return nil, nil
	}
	return names, err
}

// maxListFile bounds what ReadFile reads: s6-rc's lists of names are small.
const maxListFile = 1 << 20

func (l *localTree) ReadFile(name string) ([]byte, error) {
	if fi, err := l.root.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	} else if fi.Size() > maxListFile {
		return nil, fmt.Errorf("%s: %d bytes, more than a list of s6-rc names (%d at most)", name, fi.Size(), maxListFile)
	}
	f, err := l.root.Open(name)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxListFile))
}

// treeEntries lists every entry under dir, links with their targets.
func treeEntries(dir string) ([]pipeline.TreeEntry, error) {
	var out []pipeline.TreeEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		e := pipeline.TreeEntry{Path: filepath.ToSlash(rel), Type: d.Type()}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if errors.Is(err, fs.ErrPermission) {
				e.Unreadable = true
			} else if err != nil {
				return err
			} else {
				f.Close()
			}
		}
		if d.Type()&fs.ModeSymlink != 0 {
			e.Type = fs.ModeSymlink
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// checkRc reads a local s6-rc source tree and applies pipeline's rules,
// before any work.
func checkRc(dir, bundle string) error {
	if dir == "" {
		return inputerr.New("rc", "", "an s6-rc source tree directory is required (one directory per service or bundle, each with a type file)")
	}
	lt, err := openLocalTree(dir)
	if err != nil {
		return fmt.Errorf("--rc: %w", err)
	}
	defer lt.root.Close()
	tree, err := pipeline.ReadRcTree(lt)
	if err != nil {
		return fmt.Errorf("--rc: %w", err)
	}
	if err := tree.Check(bundle); err != nil {
		var ie *inputerr.Error
		if errors.As(err, &ie) {
			return err
		}
		return fmt.Errorf("--rc %s: %w", dir, err)
	}
	return nil
}
