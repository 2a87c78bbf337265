package buildkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
)

// Pin fetches url through the daemon (which may reach what the client
// cannot), brings the file back and returns its sha256 digest. It is for
// releases nobody published a digest for, when the user opts in; the digest
// goes to a lock file that later runs verify.
func Pin(ctx context.Context, c *client.Client, url, filename string) (string, error) {
	def, err := llb.HTTP(url, llb.Filename(filename), llb.WithCustomName("[pin] fetch "+filename)).Marshal(ctx)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "s6builder-pin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	_, err = c.Solve(ctx, def, client.SolveOpt{Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: dir}}}, nil)
	if err != nil {
		return "", fmt.Errorf("pin %s: fetching %s: %w", filename, url, err)
	}
	f, err := os.Open(filepath.Join(dir, filename))
	if err != nil {
		return "", fmt.Errorf("pin %s: %w", filename, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
