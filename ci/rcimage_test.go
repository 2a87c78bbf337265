package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/s-6-builder/internal/dagger"
)

// rcTree is examples/s6-rc/rc in small: a oneshot, a longrun that depends
// on it, and the default bundle.
func rcTree() *dagger.Directory {
	return dag.Directory().
		WithNewFile("prepare/type", "oneshot\n").
		WithNewFile("prepare/up", "mkdir -p /run/app\n").
		WithNewFile("app/type", "longrun\n").
		WithNewFile("app/run", "#!/bin/sh\nexec sleep 100000\n", executable).
		WithNewFile("app/dependencies.d/prepare", "").
		WithNewFile("default/type", "bundle\n").
		WithNewFile("default/contents.d/app", "")
}

func rcCall(f func(*imageCall)) imageCall {
	c := imageCall{args: args{s6: "2.15.1.0", static: true, with: []string{"s6-rc", "s6-linux-init"}},
		base: dag.Container().From(testBase), init: "s6-rc", rc: rcTree(), user: "1000:1000"}
	if f != nil {
		f(&c)
	}
	return c
}

// TestRcImageDescribesThePlan: with init s6-rc the container is the base,
// the dist, the plan's rc-image stage (s6-rc-compile and
// s6-linux-init-maker run by the dist's own programs on the rc directory),
// /run owned by the user, and the spec's entrypoint, PATH and user.
func TestRcImageDescribesThePlan(t *testing.T) {
	ctx := context.Background()
	fake.reset()
	ctr, err := rcCall(nil).image(ctx)
	require.NoError(t, err)
	text := chainText(t, ctx, ctr)
	for _, want := range []string{
		`/dist/usr/local/bin/s6-rc-compile", "/out/etc/s6-rc/compiled", "/rc"`,
		`s6-linux-init-maker`,
		`withMountedDirectory(path: "/rc", readOnly: true`,
		`withDirectory(owner: "1000:1000", path: "/run", source: {directory})`,
		`withEntrypoint(args: ["/etc/s6-linux-init/current/bin/init"])`,
		`withUser(name: "1000:1000")`,
		`withEnvVariable(name: "PATH", value: "/usr/local/bin:`,
		`"--prefix=/usr/local"`,
	} {
		assert.True(t, strings.Contains(text, want), "the container's chain has no %s", want)
	}
}

// TestRcImageBadArgumentsSendNoQuery: what AddRcImage refuses, and
// arguments of the other kind of image, are refused before the module
// sends the engine anything but the reads of the request it needs.
func TestRcImageBadArgumentsSendNoQuery(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		call imageCall
		want string
	}{
		"no family":       {rcCall(func(c *imageCall) { c.with = nil }), "add --with s6-rc,s6-linux-init"},
		"user name":       {rcCall(func(c *imageCall) { c.user = "app" }), `--user "app": want a numeric UID`},
		"bad bundle":      {rcCall(func(c *imageCall) { c.bundle = "a b" }), `--bundle "a b": not an s6-rc service or bundle name`},
		"grace":           {rcCall(func(c *imageCall) { c.graceTime = -1 }), `--grace-time "-1"`},
		"services too":    {rcCall(func(c *imageCall) { c.services = serviceTree(false) }), "leave --services out"},
		"no rc":           {rcCall(func(c *imageCall) { c.rc = nil }), "--rc: an s6-rc source tree directory is required"},
		"rc without init": {rcCall(func(c *imageCall) { c.init = "" }), "it is for an s6-rc image: give --init s6-rc"},
		"unknown init":    {rcCall(func(c *imageCall) { c.init = "runit" }), `--init "runit": want s6-svscan`},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			ctr, err := tc.call.image(ctx)
			require.Error(t, err)
			assert.Nil(t, ctr)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, fake.recorded(), "image sent queries")
		})
	}
}

// An s6-rc tree with a dependency cycle or a dependency on a name it does
// not define is refused by pipeline's check, from the tree's reads alone:
// nothing is built.
func TestRcImageTreeRefusals(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		rc   *dagger.Directory
		want string
	}{
		"cycle":              {rcTree().WithNewFile("prepare/dependencies.d/app", ""), "rc: a dependency cycle in the tree: app -> prepare -> app (s6-rc cannot order it)"},
		"unknown dependency": {rcTree().WithNewFile("app/dependencies.d/db", ""), "rc: app: refers to db, which is not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			ctr, err := rcCall(func(c *imageCall) { c.rc = tc.rc }).image(ctx)
			require.Error(t, err)
			assert.Nil(t, ctr)
			assert.Contains(t, err.Error(), tc.want)
			for _, q := range fake.recorded() {
				assert.NotContains(t, q, "withExec", "a build was asked for")
			}
		})
	}
}
