// Command testenv is the Go half of scripts/testenv: the test
// environment's image registry, the push of its Debian root filesystems as
// images, and its mirror of upstream source tarballs with their catalogue.
// The script keeps what only a shell should do (apt, binfmt, mmdebstrap,
// starting and stopping the daemons).
//
//	testenv registry -addr 127.0.0.1:5055 -dir DIR
//	testenv push -rootfs ROOTFS.tar -ref REGISTRY/NAME:TAG -platform linux/amd64
//	testenv digest REGISTRY/NAME:TAG
//	testenv mirror -addr 127.0.0.1:8055 -sources DIR -catalog FILE
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "registry":
		err = serveRegistry(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "digest":
		err = digest(os.Args[2:])
	case "mirror":
		err = serveMirror(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testenv registry|push|digest|mirror [flags] (see the package comment)")
	os.Exit(2)
}

// serveRegistry serves an OCI registry over plain HTTP, its blobs in
// DIR/blobs. go-containerregistry's registry keeps manifests in memory, so
// every manifest pushed is also written to DIR/manifests and pushed again
// into the registry when it starts: images survive a restart.
func serveRegistry(args []string) error {
	fs := flag.NewFlagSet("registry", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5055", "address to listen on")
	dir := fs.String("dir", "", "where blobs and manifests are kept")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("registry: give -dir")
	}
	manifests := filepath.Join(*dir, "manifests")
	if err := os.MkdirAll(filepath.Join(*dir, "blobs"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		return err
	}
	reg := registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(filepath.Join(*dir, "blobs"))))
	if err := replayManifests(reg, manifests); err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			reg.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, cloneRequest(r, body))
		if rec.Code == http.StatusCreated {
			if err := saveManifest(manifests, r.URL.Path, r.Header.Get("Content-Type"), body); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
	return listenAndServe(*addr, h)
}

type savedManifest struct {
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
}

// saveManifest keeps one pushed manifest, named by its URL path; a later
// push of the same tag replaces it. Written through a temporary file: a
// crash leaves the old one or the new one.
func saveManifest(dir, path, contentType string, body []byte) error {
	b, err := json.Marshal(savedManifest{path, contentType, body})
	if err != nil {
		return err
	}
	file := filepath.Join(dir, url.PathEscape(path)+".json")
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// replayManifests pushes the saved manifests into a new registry: those
// by digest first (an index's children), then the tags.
func replayManifests(reg http.Handler, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	var saved []savedManifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var m savedManifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		saved = append(saved, m)
	}
	sort.SliceStable(saved, func(i, j int) bool {
		return strings.Contains(saved[i].Path, "/sha256:") && !strings.Contains(saved[j].Path, "/sha256:")
	})
	for _, m := range saved {
		r := httptest.NewRequest(http.MethodPut, m.Path, bytes.NewReader(m.Body))
		r.Header.Set("Content-Type", m.ContentType)
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		if rec.Code != http.StatusCreated {
			// A manifest whose blobs are gone: the next push restores it.
			fmt.Fprintf(os.Stderr, "testenv: registry: not restored %s: %d %s\n", m.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
	}
	return nil
}

func cloneRequest(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}

// push makes an image of a root filesystem tarball (one layer, the
// platform in its config, nothing else) and pushes it to ref over plain
// HTTP, unless ref already holds the image pushed from that tarball
// (recorded in ROOTFS.pushed). It prints the image's digest.
func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	rootfs := fs.String("rootfs", "", "root filesystem tarball")
	ref := fs.String("ref", "", "where to push it, REGISTRY/NAME:TAG")
	platform := fs.String("platform", platforms.DefaultString(), "the image's platform")
	_ = fs.Parse(args)
	if *rootfs == "" || *ref == "" {
		return errors.New("push: give -rootfs and -ref")
	}
	tag, err := name.NewTag(*ref, name.Insecure)
	if err != nil {
		return err
	}
	p, err := platforms.Parse(*platform)
	if err != nil {
		return err
	}
	st, err := os.Stat(*rootfs)
	if err != nil {
		return err
	}
	record := *rootfs + ".pushed"
	// The tarball (by size and time) and where it went: a new tarball or
	// another ref pushes again.
	stamp := fmt.Sprintf("%s %d %d %s", tag, st.Size(), st.ModTime().UnixNano(), platforms.Format(p))
	if b, err := os.ReadFile(record); err == nil {
		want, d, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if want == stamp {
			if desc, err := remote.Head(tag); err == nil && desc.Digest.String() == d {
				fmt.Println(d)
				return nil
			}
		}
	}
	// Fast compression: the layer is pushed once to a registry on this
	// machine, where time matters more than bytes.
	layer, err := tarball.LayerFromFile(*rootfs, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	if err := remote.Write(tag, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if err := os.WriteFile(record, []byte(stamp+"\n"+d.String()+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}

// digest prints the digest of the image ref names (exit 1 when there is
// none).
func digest(args []string) error {
	if len(args) != 1 {
		return errors.New("digest: give one image reference")
	}
	ref, err := name.ParseReference(args[0], name.Insecure)
	if err != nil {
		return err
	}
	desc, err := remote.Head(ref)
	if err != nil {
		return err
	}
	fmt.Println(desc.Digest)
	return nil
}

// serveMirror serves the upstream tarballs of a folder laid out as
// skarnet's site is (/<pkg>/<pkg>-<ver>.tar.gz, what --mirror replaces) and
// writes the catalogue of their digests, which --catalog takes.
func serveMirror(args []string) error {
	fs := flag.NewFlagSet("mirror", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8055", "address to listen on")
	sources := fs.String("sources", "", "folder of <pkg>-<version>.tar.gz")
	catalogFile := fs.String("catalog", "", "where to write the catalogue of what is served")
	// Only read by scripts/testenv, in this process's command line: which
	// set of tarballs it serves (a changed set restarts the mirror).
	_ = fs.String("stamp", "", "the served set's stamp (names, sizes, times), for the script")
	_ = fs.Parse(args)
	if *catalogFile == "" {
		return errors.New("mirror: give -catalog")
	}
	m := fixtures.NewMirrorHandler()
	if *sources != "" {
		if _, err := m.AddDir(*sources); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(m.Catalog(), "", "  ")
	if err != nil {
		return err
	}
	if _, err := catalog.ParseFile(b); err != nil {
		return fmt.Errorf("the catalogue written would not be read back: %w", err)
	}
	tmp := *catalogFile + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *catalogFile); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "testenv: mirror: %d tarballs of %s, catalogue %s\n", len(m.Catalog().Releases), *sources, *catalogFile)
	mux := http.NewServeMux()
	mux.Handle("/", m)
	mux.HandleFunc("/catalog.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, '\n'))
	})
	return listenAndServe(*addr, mux)
}

// listenAndServe serves h on addr until SIGTERM or SIGINT.
func listenAndServe(addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
