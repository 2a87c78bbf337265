package pipeline

import (
	"fmt"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"path"
	"strings"

	"github.com/distribution/reference"
)

// An image puts s6-svscan at PID 1 over a service tree: the base image, the
// s6/execline binaries, the user's services at ServicesDir, and an
// .s6-svscan/finish when the tree has none (s6-svscan 2.1 warns without it,
// and runs it when the container stops). Both adapters build it from this.

// Image defaults.
const (
	// DefaultImagePrefix is an image's installation prefix: the base's own
	// /bin is often a link to usr/bin, onto which no tree can be copied.
	DefaultImagePrefix = "/usr/local"
	DefaultServicesDir = "/etc/s6"
	StopSignal         = "SIGTERM" // s6-svscan: same as s6-svscanctl -t, in every release
)

// DefaultScanFinish is the .s6-svscan/finish added when the service tree has
// none. It is a POSIX sh script (any base has /bin/sh) that lets the
// container exit with status 0 once every service is down.
const DefaultScanFinish = "#!/bin/sh\n# Added by s6builder: run by s6-svscan when the container stops.\nexit 0\n"

// ImageRequest describes the image.
type ImageRequest struct {
	Base string // base image reference (any distribution)
	// Prefix is where the dist's programs are (PREFIX/bin/s6-svscan): the
	// one it was built for. The dist tree goes at /. "" = DefaultImagePrefix.
	Prefix        string
	ServicesDir   string // "" = DefaultServicesDir
	HasScanFinish bool   // the service tree has .s6-svscan/finish already
}

// ImageSpec is the normalized image: what goes where and the config.
type ImageSpec struct {
	Base        string   `json:"base,omitempty"`        // "" from NewImageLayout
	Prefix      string   `json:"prefix"`                // the dist tree goes at /, its programs are under Prefix
	ServicesDir string   `json:"services_dir"`          // where the user's tree goes: "/" in an s6-overlay image, "" for none
	ScanFinish  string   `json:"scan_finish,omitempty"` // content to add at ServicesDir/.s6-svscan/finish
	Entrypoint  []string `json:"entrypoint"`
	WorkingDir  string   `json:"working_dir"`
	Env         []string `json:"env"`
	StopSignal  string   `json:"stop_signal"`
	// DistOnly: the image is the dist alone, FROM scratch (no base, no
	// services, no entrypoint), for `COPY --from=IMAGE / /`.
	DistOnly bool              `json:"dist_only,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Init is InitS6Rc for an image that boots with s6-linux-init and
	// s6-rc; "" for s6-svscan over ServicesDir.
	Init string `json:"init,omitempty"`
	// Layers are plan stages whose outputs go into the image at /.
	Layers []string   `json:"layers,omitempty"`
	User   string     `json:"user,omitempty"` // UID[:GID] of the container's processes
	Dirs   []ImageDir `json:"dirs,omitempty"` // directories the image has, owned and moded so
}

// NewImage validates r and derives the image spec; it does no I/O.
func NewImage(r ImageRequest) (ImageSpec, error) {
	base, err := imageBase(r.Base)
	if err != nil {
		return ImageSpec{}, err
	}
	s, err := NewImageLayout(r)
	s.Base = base
	return s, err
}

// imageBase checks a base image reference and normalizes it.
func imageBase(b string) (string, error) {
	if b == "" {
		return "", inputerr.New("base", "", "an image reference is required (any distribution: the binaries are static)")
	}
	ref, err := reference.ParseNormalizedNamed(b)
	if err != nil {
		return "", inputerr.New("base", b, "not an image reference: %v", err)
	}
	return reference.TagNameOnly(ref).String(), nil
}

// NewImageLayout validates r but its Base and derives what goes where in
// the image and its config, for a front end whose base is not a reference
// (the Dagger module's is a container); Base is left empty.
func NewImageLayout(r ImageRequest) (ImageSpec, error) {
	if r.Prefix == "" {
		r.Prefix = DefaultImagePrefix
	}
	if r.ServicesDir == "" {
		r.ServicesDir = DefaultServicesDir
	}
	for field, p := range map[string]string{"prefix": r.Prefix, "servicesDir": r.ServicesDir} {
		if err := checkPath(p); err != nil {
			return ImageSpec{}, inputerr.New(field, p, "%v", err)
		}
	}
	if r.ServicesDir == "/" {
		return ImageSpec{}, inputerr.New("servicesDir", "/", "the service tree needs a directory of its own")
	}
	bin := path.Join(r.Prefix, "bin")
	s := ImageSpec{
		Prefix:      r.Prefix,
		ServicesDir: r.ServicesDir,
		Entrypoint:  []string{path.Join(bin, "s6-svscan"), r.ServicesDir},
		WorkingDir:  "/",
		// s6-svscan starts s6-supervise by name: the dist's bin comes first.
		Env:        []string{"PATH=" + pathWithFirst(bin)},
		StopSignal: StopSignal,
	}
	if !r.HasScanFinish {
		s.ScanFinish = DefaultScanFinish
	}
	return s, nil
}

// NewDistImage is the spec of a dist image: FROM scratch, the dist of
// plans (its programs under their prefix) and nothing else, labelled with
// the releases it holds. The plans are one request's, one per platform.
func NewDistImage(plans []*Plan) (ImageSpec, error) {
	if len(plans) == 0 {
		return ImageSpec{}, fmt.Errorf("a dist image needs a plan")
	}
	p := plans[0]
	s6, _ := p.Selection.Release(catalog.S6)
	s := ImageSpec{Prefix: p.Request.Prefix, DistOnly: true, Labels: map[string]string{
		"org.opencontainers.image.title":   "s6 " + s6.Version.String() + " dist",
		"org.opencontainers.image.version": s6.Version.String(),
		// How a user finds the programs: PREFIX/bin.
		"io.s6builder.prefix": p.Request.Prefix,
	}}
	for _, pkg := range p.Selection.Packages() {
		rel, _ := p.Selection.Release(pkg)
		s.Labels["io.s6builder.release."+pkg] = rel.Version.String()
	}
	for _, q := range plans[1:] {
		if q6, _ := q.Selection.Release(catalog.S6); q.Request.Prefix != s.Prefix || q6.Version != s6.Version {
			return ImageSpec{}, fmt.Errorf("a dist image's plans differ in more than their platform")
		}
	}
	return s, nil
}

// checkPath accepts clean absolute paths of plain characters (they reach
// configure, make and the image config).
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return fmt.Errorf("want a clean absolute path")
	}
	if strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != "" {
		return fmt.Errorf("want letters, digits and /._- only")
	}
	return nil
}

// pathWithFirst is DefaultPath with dir moved (or added) to the front.
func pathWithFirst(dir string) string {
	out := []string{dir}
	for _, d := range strings.Split(DefaultPath, ":") {
		if d != dir {
			out = append(out, d)
		}
	}
	return strings.Join(out, ":")
}
