package buildkit

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
)

// receiver unpacks the tar stream of BuildKit's tar exporter into a
// directory itself. The local exporter can hang forever when the receiving
// file system fills up (moby/buildkit#2950); here a failed write fails the
// export at once, and a full file system is reported with the size the tree
// needs.
type receiver struct {
	dir  string
	pw   *io.PipeWriter
	done chan error
}

// receive starts unpacking into dir (which exists) and returns the writer
// to give the exporter.
func receive(dir string) *receiver {
	pr, pw := io.Pipe()
	r := &receiver{dir: dir, pw: pw, done: make(chan error, 1)}
	go func() {
		err := unpack(dir, pr)
		pr.CloseWithError(err) // a write after a failure fails the exporter
		r.done <- err
	}()
	return r
}

// Write and Close make the receiver the exporter's io.WriteCloser.
func (r *receiver) Write(b []byte) (int, error) { return r.pw.Write(b) }
func (r *receiver) Close() error                { return r.pw.Close() }

// errNoExport ends an unpacking whose export never came (the solve failed).
var errNoExport = errors.New("the solve ended without an export")

// wait returns the unpacking error once the stream has ended, or nil when
// the solve ended before its export (the solve's error says why).
func (r *receiver) wait() error {
	r.pw.CloseWithError(errNoExport)
	err := <-r.done
	if errors.Is(err, errNoExport) {
		return nil
	}
	return err
}

// unpack extracts the tar stream into dir, never outside it. On a full file
// system it reads the rest of the stream to say how much the tree needs.
func unpack(dir string, in io.Reader) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(in)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receiving the export: %w", err)
		}
		total += h.Size
		if err := unpackEntry(root, tr, h); err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
				for h, err = tr.Next(); err == nil; h, err = tr.Next() {
					total += h.Size
				}
				return &NoSpaceError{Dir: path.Dir(dir), Need: total}
			}
			return fmt.Errorf("receiving the export: %s: %w", h.Name, err)
		}
	}
}

func unpackEntry(root *os.Root, tr *tar.Reader, h *tar.Header) error {
	name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
	if name == "" {
		return nil
	}
	mode := h.FileInfo().Mode().Perm()
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil && path.Dir(name) != "." {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return root.Chmod(name, mode)
	case tar.TypeReg:
		f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
		return root.Chtimes(name, h.ModTime, h.ModTime)
	case tar.TypeSymlink:
		return root.Symlink(h.Linkname, name)
	case tar.TypeLink:
		return root.Link(strings.TrimPrefix(path.Clean("/"+h.Linkname), "/"), name)
	default:
		return fmt.Errorf("unexpected entry type %q in the export", h.Typeflag)
	}
}

// NoSpaceError is an export that did not fit: nothing of it was kept.
type NoSpaceError struct {
	Dir  string // where the output was going
	Need int64  // bytes of file content the tree holds
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("no space left on the file system of %s: the tree needs about %.1f MB; nothing was written there (free some space, or choose another output)",
		e.Dir, float64(e.Need)/1e6)
}
