package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/moby/buildkit/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// nodeVar registers --node: more BuildKit daemons for a matrix's
// platforms, beside the --addr one.
func nodeVar(fs *pflag.FlagSet, nodes *[]string) {
	fs.StringArrayVar(nodes, "node", nil, "another BuildKit daemon to spread the platforms over (repeatable), e.g. tcp://arm64-builder:1234: each platform goes to a daemon native to it when one is given, the others are shared out and cross-compiled; a --cache-to registry ref is shared (each daemon exports REF-nodeN and imports them all)")
}

// nodes are the daemons of a run: the --addr one (0), then each --node.
type nodes struct {
	daemons []*daemon
	native  []string
}

func (n *nodes) clients() []*client.Client {
	out := make([]*client.Client, len(n.daemons))
	for i, d := range n.daemons {
		out[i] = d.Client
	}
	return out
}

// explain names, in an error that a daemon went away, the address of the
// node it was.
func (n *nodes) explain(err error) error {
	var gone *bk.DaemonGoneError
	if errors.As(err, &gone) && gone.Node < len(n.daemons) {
		gone.Addr = n.daemons[gone.Node].addr
	}
	return err
}

// connectNodes dials the --node daemons beside first and asks each for its
// native platform. --node needs a --addr daemon: a private one would be a
// daemon nobody asked for.
func connectNodes(cmd *cobra.Command, first *daemon, addrs []string) (*nodes, func(), error) {
	ctx := cmd.Context()
	n := &nodes{daemons: []*daemon{first}}
	stop := func() {
		for _, d := range n.daemons[1:] {
			d.Close()
		}
	}
	for _, a := range addrs {
		c, err := bk.Connect(ctx, a)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("--node %s: %w", a, err)
		}
		n.daemons = append(n.daemons, &daemon{c, a})
	}
	for _, d := range n.daemons {
		p, err := bk.NativePlatform(ctx, d.Client)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("%s: %w", d.addr, err)
		}
		n.native = append(n.native, p)
	}
	return n, stop, nil
}

// checkNodes refuses --node values before any work: each a BuildKit
// address, none twice, and a --addr (or BUILDKIT_HOST) beside them.
func checkNodes(addr string, addrs []string) error {
	if len(addrs) > 0 && addr == "" {
		return inputerr.New("node", addrs[0], "give the first daemon with --addr (or BUILDKIT_HOST) too: --node adds daemons to it")
	}
	seen := map[string]bool{addr: true}
	for _, a := range addrs {
		if err := checkAddr(a); err != nil {
			return inputerr.New("node", a, "want a BuildKit address (unix://, tcp://, docker-container://...)")
		}
		if seen[a] {
			return inputerr.New("node", a, "named twice (with --addr or another --node): one daemon is one node")
		}
		seen[a] = true
	}
	return nil
}

// plansOnNodes assigns each request to a node (bk.Assign: its native one
// when there is one) and plans it for that node's build platform.
func plansOnNodes(n *nodes, cat *catalog.Catalog, reqs []pipeline.Request) ([]*pipeline.Plan, []int, error) {
	plats := make([]string, len(reqs))
	for i, r := range reqs {
		norm, err := r.Normalize()
		if err != nil {
			return nil, nil, usageError{err}
		}
		plats[i] = norm.Platform
	}
	on := bk.Assign(n.native, plats)
	plans := make([]*pipeline.Plan, len(reqs))
	for i, r := range reqs {
		p, err := pipeline.New(cat, r.OnEngine(n.native[on[i]]))
		if err != nil {
			return nil, nil, usageError{err}
		}
		plans[i] = p
		if len(n.daemons) > 1 {
			fmt.Fprintf(os.Stderr, "s6builder: %s on %s (%s)\n", p.Request.Platform, n.daemons[on[i]].addr, n.native[on[i]])
		}
	}
	return plans, on, nil
}
