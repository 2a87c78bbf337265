package pipeline

import (
	_ "embed"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"

	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// An s6-rc image boots as s6-overlay's do: s6-linux-init (container mode)
// is PID 1's program, starts the supervision tree on /run/service, and its
// stage 2 brings up an s6-rc bundle in dependency order; SIGTERM brings
// every service down in reverse order, then the container exits with
// /run/s6-linux-init-container-results/exitcode. The s6-rc database and the
// init directory are made at build time by the dist's own s6-rc-compile
// and s6-linux-init-maker (a bad service definition fails the build with
// s6-rc-compile's message), and go into the image at RcCompiledDir and
// InitDir.

// RcInitScript makes the init directory (rcinit.sh). A constant: its
// arguments are the plan's checked values, never parsed by sh.
//
//go:embed rcinit.sh
var RcInitScript string

// Paths of an s6-rc image, and its stages.
const (
	InitDir        = "/etc/s6-linux-init/current" // s6-linux-init-maker -c
	RcCompiledDir  = "/etc/s6-rc/compiled"        // the compiled s6-rc database
	RcSourceDir    = "/rc"                        // the service definitions, in the compile stage
	DefaultBundle  = "default"
	DefaultGraceMS = 3000 // s6-linux-init-maker's own default (-q)
	MaxGraceMS     = 300000

	IDRcSource = "rc-source" // the user's s6-rc source tree (a local directory)
	IDRcImage  = "rc-image"  // the compiled database and the init directory, to merge at /

	// LocalRc is the name of the local directory the front end hands over
	// for IDRcSource.
	LocalRc = "rc"
)

// InitS6Rc is ImageRequest.Init for an image that boots with s6-linux-init
// and s6-rc; "" is s6-svscan over a flat service tree.
const InitS6Rc = "s6-rc"

// oldestContainerInit: before it, SIGTERM in container mode did not halt
// through the exit code file, and a non-root PID 1 could not work.
var oldestContainerInit = version.MustParse("1.0.7.2")

var (
	bundleRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._:@-]{0,255}$`)
	userRE   = regexp.MustCompile(`^([0-9]{1,10})(:([0-9]{1,10}))?$`)
)

// RcImage is what an s6-rc image needs beyond a plan.
type RcImage struct {
	// Base is the base image reference; "" for a front end whose base is
	// not a reference (the Dagger module's is a container).
	Base    string
	Bundle  string // brought up at boot; "" = DefaultBundle
	User    string // UID[:GID] the container runs as; "" = root
	GraceMS int    // between the final SIGTERM and SIGKILL at shutdown; 0 = DefaultGraceMS
}

// rcUser parses UID[:GID] (GID defaults to UID).
func rcUser(u string) (uid, gid int, err error) {
	m := userRE.FindStringSubmatch(u)
	if m == nil {
		return 0, 0, inputerr.New("user", u, "want a numeric UID or UID:GID (the image has no user database of ours to look names up in)")
	}
	uid, _ = strconv.Atoi(m[1])
	gid = uid
	if m[3] != "" {
		gid, _ = strconv.Atoi(m[3])
	}
	return uid, gid, nil
}

// AddRcImage adds to p the stages of an s6-rc image, IDRcSource (the local
// directory LocalRc) and IDRcImage, and returns the image layout. p must
// hold s6-rc and an s6-linux-init with container mode.
func AddRcImage(p *Plan, r RcImage) (ImageSpec, error) {
	if r.Bundle == "" {
		r.Bundle = DefaultBundle
	}
	if !bundleRE.MatchString(r.Bundle) {
		return ImageSpec{}, inputerr.New("bundle", r.Bundle, "not an s6-rc service or bundle name")
	}
	if r.GraceMS == 0 {
		r.GraceMS = DefaultGraceMS
	}
	if r.GraceMS < 0 || r.GraceMS > MaxGraceMS {
		return ImageSpec{}, inputerr.New("graceTime", strconv.Itoa(r.GraceMS), "want 1 to %d milliseconds", MaxGraceMS)
	}
	base := ""
	if r.Base != "" {
		var err error
		if base, err = imageBase(r.Base); err != nil {
			return ImageSpec{}, err
		}
	}
	uid, gid := 0, 0
	if r.User != "" {
		var err error
		if uid, gid, err = rcUser(r.User); err != nil {
			return ImageSpec{}, err
		}
	}
	if p.Request.Profile != "" {
		return ImageSpec{}, inputerr.New("profile", p.Request.Profile, "an s6-rc image runs s6-linux-init and s6-rc from the whole dist: leave {arg:profile} out")
	}
	if _, ok := p.Selection.Release("s6-rc"); !ok {
		return ImageSpec{}, inputerr.New("with", "", "an s6-rc image needs s6-rc and s6-linux-init: add {arg:with} s6-rc,s6-linux-init")
	}
	init, ok := p.Selection.Release("s6-linux-init")
	if !ok {
		return ImageSpec{}, inputerr.New("with", "", "an s6-rc image boots with s6-linux-init: add {arg:with} s6-linux-init")
	}
	if init.Version.Less(oldestContainerInit) {
		return ImageSpec{}, inputerr.New("with", "s6-linux-init="+init.Version.String(),
			"s6-linux-init %s cannot stop a container cleanly (its container mode halts with the exit code from %s on)", init.Version, oldestContainerInit)
	}
	if p.Stage(IDRcImage) != nil {
		return ImageSpec{}, fmt.Errorf("the plan has an s6-rc image already")
	}
	req := p.Request
	toolchain := p.Stage(IDToolchain)
	env := []string{"PATH=" + DefaultPath}
	if cross, ok := req.CrossTarget(); ok {
		env = append(env, "CROSS_COMPILE="+cross.GNUTriple+"-")
	}
	bin := path.Join(SmokeDist, req.Prefix, "bin")
	p.add(&Stage{ID: IDRcSource, Kind: KindLocal, Local: &Local{Name: LocalRc}})
	p.add(&Stage{ID: IDRcImage, Kind: KindPrepare, Deps: []string{toolchain.ID, IDDist, IDRcSource},
		Exec: &Exec{
			Env: env,
			Mounts: []Mount{{Target: SmokeDist, From: IDDist, Readonly: true},
				{Target: RcSourceDir, From: IDRcSource, Readonly: true}},
			Steps: []Step{
				{Name: "mkdir", Dir: "/", Args: []string{"mkdir", "-p", OutDir + path.Dir(RcCompiledDir)}},
				{Name: "s6-rc-compile", Dir: "/", Args: []string{path.Join(bin, "s6-rc-compile"), OutDir + RcCompiledDir, RcSourceDir}},
				{Name: "s6-linux-init-maker", Dir: "/", Args: []string{"sh", "-c", RcInitScript, "rcinit",
					SmokeDist, req.Prefix, r.Bundle, strconv.Itoa(r.GraceMS), OutDir}},
			},
			Output: OutDir,
			// The dist's programs run: the target's, under emulation for
			// a cross build.
			Emulates: emulates(req.Cross(), req.Platform),
		}})
	s := ImageSpec{
		Base:       base,
		Prefix:     req.Prefix,
		Init:       InitS6Rc,
		Layers:     []string{IDRcImage},
		Entrypoint: []string{path.Join(InitDir, "bin", "init")},
		WorkingDir: "/",
		Env:        []string{"PATH=" + pathWithFirst(path.Join(req.Prefix, "bin"))},
		StopSignal: StopSignal,
		User:       r.User,
		// /run: where s6-linux-init copies its run image, the scandir and
		// s6-rc's live state go; the container's user must own it (a
		// read-only root gets a tmpfs there instead).
		Dirs: []ImageDir{{Path: "/run", Mode: 0o755, UID: uid, GID: gid}},
	}
	return s, nil
}

// ImageDir is a directory an image has, with its owner and mode.
type ImageDir struct {
	Path string `json:"path"`
	Mode int    `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// Local is a directory the front end hands over by name (the user's files).
type Local struct {
	Name string `json:"name"`
}

// RcTree is what a front end read of an s6-rc source tree: every entry,
// and for each top-level directory whether it has a "type" file and the
// names it refers to (its dependencies, a bundle's contents).
type RcTree struct {
	Entries []TreeEntry
	Typed   map[string]bool
	Refs    map[string][]string
}

// Check refuses a tree that would not copy as it is (the rules of a
// service tree's entries), a top-level directory without a type file, a
// reference to a name the tree does not define, a dependency cycle, and a
// bundle the tree does not define. s6-rc-compile checks the rest at build
// time, naming the service.
func (t RcTree) Check(bundle string) error {
	if bundle == "" {
		bundle = DefaultBundle
	}
	if err := checkEntries(t.Entries); err != nil {
		return err
	}
	if len(t.Typed) == 0 {
		return fmt.Errorf("no service definitions in it (one directory per service or bundle, each with a type file: oneshot, longrun or bundle)")
	}
	for _, n := range slices.Sorted(maps.Keys(t.Typed)) {
		if !t.Typed[n] {
			return fmt.Errorf("%s has no type file (oneshot, longrun or bundle)", n)
		}
	}
	if err := checkRcGraph("", t.Refs); err != nil {
		return err
	}
	if _, ok := t.Typed[bundle]; !ok {
		return inputerr.New("bundle", bundle, "the s6-rc source tree defines no %s to bring up at boot (a bundle of the services to start, or give another {arg:bundle})", bundle)
	}
	return nil
}
