package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
)

// These tests run image against the fake engine and check the container it
// describes against pipeline.NewImage's spec and the plan's dist, as
// engine/buildkit/image.go builds them: the base, the dist at the prefix,
// the services, the added .s6-svscan/finish, PATH and the entrypoint.

const testBase = "debian:bookworm-slim"

// imageCall is image's arguments: the request's, then the image's.
type imageCall struct {
	args
	services    *dagger.Directory
	base        *dagger.Container
	servicesDir string
	// init s6-rc
	init, bundle, user string
	rc                 *dagger.Directory
	graceTime          int
}

func (c imageCall) image(ctx context.Context) (*dagger.Container, error) {
	s, err := c.args.suite()
	if err != nil {
		return nil, err
	}
	return s.Image(ctx, c.base, c.services, c.servicesDir, c.init, c.rc, c.bundle, c.user, c.graceTime)
}

var executable = dagger.DirectoryWithNewFileOpts{Permissions: 0o755}

// imagePrefix is a with the prefix an image's dist is built for when a
// gives none.
func imagePrefix(a args) args {
	if a.prefix == "" {
		a.prefix = pipeline.DefaultImagePrefix
	}
	return a
}

// serviceTree is examples/sshd/etc/s6 as a Directory, with or without its
// .s6-svscan/finish.
func serviceTree(withFinish bool) *dagger.Directory {
	d := dag.Directory().
		WithNewFile("sshd/run", "#!/bin/sh\nexec 2>&1\nexec /usr/sbin/sshd -D -e\n", executable).
		WithNewFile("sshd/finish", "#!/bin/sh\nexit 0\n", executable)
	if withFinish {
		d = d.WithNewFile(".s6-svscan/finish", "#!/bin/sh\necho bye\n", executable)
	}
	return d
}

// imageNode is an image chain read back: base... withDirectory(dist)
// withDirectory(services) [withNewFile(finish)] withEnvVariable*
// withEntrypoint withWorkdir.
type imageNode struct {
	base                   chain
	distPath, servicesPath string
	dist, services         chain
	finish                 *call
	env                    []string
	entrypoint             []string
	workdir                string
}

func decodeImage(t *testing.T, c chain) imageNode {
	t.Helper()
	var n imageNode
	i := 0
	for i < len(c) && c[i].Field != "withDirectory" {
		i++
	}
	n.base = c[:i]
	require.Less(t, i+1, len(c), "image chain %s", c)
	for _, w := range []struct {
		path *string
		src  *chain
	}{{&n.distPath, &n.dist}, {&n.servicesPath, &n.services}} {
		require.Equal(t, "withDirectory", c[i].Field, "image chain %s", c)
		onlyArgs(t, c[i], "path", "source")
		*w.path, *w.src = str(t, c[i], "path"), sub(t, c[i], "source")
		i++
	}
	if i < len(c) && c[i].Field == "withNewFile" {
		onlyArgs(t, c[i], "path", "contents", "permissions")
		n.finish = &c[i]
		i++
	}
	for ; i < len(c) && c[i].Field == "withEnvVariable"; i++ {
		onlyArgs(t, c[i], "name", "value")
		n.env = append(n.env, str(t, c[i], "name")+"="+str(t, c[i], "value"))
	}
	require.Equal(t, len(c)-2, i, "image chain %s: unexpected calls from %s", c, c[min(i, len(c)-1)])
	require.Equal(t, "withEntrypoint", c[i].Field)
	onlyArgs(t, c[i], "args")
	n.entrypoint = strs(t, c[i], "args")
	require.Equal(t, "withWorkdir", c[i+1].Field)
	onlyArgs(t, c[i+1], "path")
	n.workdir = str(t, c[i+1], "path")
	return n
}

// idOf is obj's ID from the fake engine.
func idOf(t *testing.T, ctx context.Context, obj interface {
	ID(context.Context) (dagger.ID, error)
}) string {
	t.Helper()
	id, err := obj.ID(ctx)
	require.NoError(t, err)
	return string(id)
}

// chainText is the chain behind obj's ID.
func chainText(t *testing.T, ctx context.Context, obj interface {
	ID(context.Context) (dagger.ID, error)
}) string {
	t.Helper()
	return fake.chainOf(t, idOf(t, ctx, obj)).String()
}

// TestImageDescribesThePlan: image with s6 2.1.6.0, a service tree and a
// base container is the base, the dist chain build sends, at /usr/local,
// the services at /etc/s6, an .s6-svscan/finish when the tree has none,
// PATH and the entrypoint: pipeline.NewImage's spec.
func TestImageDescribesThePlan(t *testing.T) {
	ctx := context.Background()
	for _, hasFinish := range []bool{false, true} {
		name := map[bool]string{false: "tree without .s6-svscan/finish", true: "tree with .s6-svscan/finish"}[hasFinish]
		t.Run(name, func(t *testing.T) {
			a := defaults("2.1.6.0")
			ic := imageCall{args: a, services: serviceTree(hasFinish), base: dag.Container().From(testBase)}
			fake.reset()
			ctr, err := ic.image(ctx)
			require.NoError(t, err)
			n := decodeImage(t, fake.chainOf(t, idOf(t, ctx, ctr)))
			raw := strings.Join(fake.recorded(), "\n")

			// The plan's dist, exactly the chain build sends.
			dist, err := imagePrefix(a).build(ctx)
			require.NoError(t, err)
			assert.Equal(t, chainText(t, ctx, dist), n.dist.String(), "the dist is build's")
			p := cliPlan(t, imagePrefix(a), "")
			seen := checkStages(t, p, exported(p), decode(t, n.dist))
			assert.Contains(t, ids(seen), pipeline.IDDist)
			assert.Equal(t, 3, strings.Count(raw, "http("), "one http per tarball")
			for _, pkg := range p.Selection.Packages() {
				assert.Contains(t, raw, `checksum:"`+p.Stage("fetch/"+pkg).Fetch.Digest+`"`)
			}

			// Base, services, finish, config: NewImage's spec.
			spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: testBase, HasScanFinish: hasFinish})
			require.NoError(t, err)
			assert.Equal(t, chainText(t, ctx, ic.base), n.base.String())
			assert.Equal(t, "/", n.distPath, "the dist holds its prefix")
			assert.Equal(t, "/usr/local", spec.Prefix)
			assert.Equal(t, "/etc/s6", n.servicesPath)
			assert.Equal(t, spec.ServicesDir, n.servicesPath)
			assert.Equal(t, chainText(t, ctx, ic.services), n.services.String())
			if hasFinish {
				assert.Nil(t, n.finish, "the tree's own finish is kept")
			} else {
				require.NotNil(t, n.finish, "finish added")
				assert.Equal(t, "/etc/s6/.s6-svscan/finish", str(t, *n.finish, "path"))
				assert.Equal(t, pipeline.DefaultScanFinish, str(t, *n.finish, "contents"))
				assert.EqualValues(t, 0o755, n.finish.Args["permissions"])
			}
			require.Len(t, n.env, 1)
			assert.True(t, strings.HasPrefix(n.env[0], "PATH=/usr/local/bin:"), "the dist's bin first: %s", n.env[0])
			assert.Equal(t, spec.Env, n.env)
			assert.Equal(t, []string{"/usr/local/bin/s6-svscan", "/etc/s6"}, n.entrypoint)
			assert.Equal(t, spec.Entrypoint, n.entrypoint)
			assert.Equal(t, "/", n.workdir, "as engine/buildkit sets it")
			assert.Equal(t, "SIGTERM", spec.StopSignal, "the signal runtimes send when the image sets none")
		})
	}
}

// TestImagePlatform: the dist is built for the base container's platform
// unless platform is given, which must then be the base's.
func TestImagePlatform(t *testing.T) {
	ctx := context.Background()
	s390x := dag.Container(dagger.ContainerOpts{Platform: "linux/s390x"}).From(testBase)

	a := defaults("2.1.6.0")
	fake.reset()
	ctr, err := imageCall{args: a, services: serviceTree(true), base: s390x}.image(ctx)
	require.NoError(t, err)
	n := decodeImage(t, fake.chainOf(t, idOf(t, ctx, ctr)))
	want := a
	want.platform = "linux/s390x"
	checkStages(t, cliPlan(t, imagePrefix(want), ""), pipeline.IDDist, decode(t, n.dist))
	// Cross-compiled on the engine's platform...
	assert.Contains(t, n.dist.String(), `container(platform: "`+fakePlatform+`")`)
	assert.Contains(t, n.dist.String(), `"gcc-s390x-linux-gnu"`)
	assert.NotContains(t, n.dist.String(), `container(platform: "linux/s390x")`)

	// ... or built under emulation when asked.
	emulated := a
	emulated.emulate = true
	fake.reset()
	ctr, err = imageCall{args: emulated, services: serviceTree(true), base: s390x}.image(ctx)
	require.NoError(t, err)
	n = decodeImage(t, fake.chainOf(t, idOf(t, ctx, ctr)))
	want.emulate = true
	checkStages(t, cliPlan(t, imagePrefix(want), ""), pipeline.IDDist, decode(t, n.dist))
	assert.Contains(t, n.dist.String(), `container(platform: "linux/s390x")`)
	assert.NotContains(t, n.dist.String(), `gcc-s390x-linux-gnu`)

	a.platform = "linux/s390x"
	_, err = imageCall{args: a, services: serviceTree(true), base: s390x}.image(ctx)
	require.NoError(t, err)

	a.platform = "linux/arm64"
	fake.reset()
	ctr, err = imageCall{args: a, services: serviceTree(true), base: s390x}.image(ctx)
	require.Error(t, err)
	assert.Nil(t, ctr)
	assert.Contains(t, err.Error(), `--platform "linux/arm64": the base container is linux/s390x; give a --base for linux/arm64`)
	q := fake.recorded()
	require.Len(t, q, 1, "only the base's platform was asked")
	assert.Contains(t, q[0], "platform}")

	// A list of platforms is for publish: an image is one platform's.
	fake.reset()
	_, err = imageCall{args: args{s6: "2.1.6.0", static: true, platforms: []string{"linux/arm64", "linux/amd64"}}, services: serviceTree(true), base: s390x}.image(ctx)
	assert.ErrorContains(t, err, "an image is the base container's platform: leave --platforms out")
	assert.Empty(t, fake.recorded())
}

// TestImageServiceTree: the tree is checked as `s6builder image` checks it
// (every service directory needs an executable run), and an .s6-svscan/finish
// that is not executable is replaced, as the CLI does.
func TestImageServiceTree(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		tree *dagger.Directory
		want string
	}{
		"empty":        {dag.Directory(), "no service directories"},
		"only dotdirs": {dag.Directory().WithNewFile(".s6-svscan/finish", "x", executable), "no service directories"},
		"no run":       {serviceTree(true).WithNewFile("cron/finish", "x", executable), `service "cron" has no executable run file`},
		"run not executable": {serviceTree(true).WithNewFile("cron/run", "x", dagger.DirectoryWithNewFileOpts{Permissions: 0o644}),
			`service "cron" has no executable run file`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := imageCall{args: defaults("2.1.6.0"), services: tc.tree, base: dag.Container().From(testBase)}.image(ctx)
			assert.ErrorContains(t, err, tc.want)
		})
	}

	// A plain file at the top is not a service.
	tree := serviceTree(false).WithNewFile("README", "not a service", dagger.DirectoryWithNewFileOpts{})
	hasFinish, err := checkServices(ctx, tree)
	require.NoError(t, err)
	assert.False(t, hasFinish)

	tree = serviceTree(false).WithNewFile(".s6-svscan/finish", "#!/bin/sh\n", dagger.DirectoryWithNewFileOpts{Permissions: 0o644})
	hasFinish, err = checkServices(ctx, tree)
	require.NoError(t, err)
	assert.False(t, hasFinish, "not executable: s6-svscan could not run it")
	ctr, err := imageCall{args: defaults("2.1.6.0"), services: tree, base: dag.Container().From(testBase)}.image(ctx)
	require.NoError(t, err)
	n := decodeImage(t, fake.chainOf(t, idOf(t, ctx, ctr)))
	require.NotNil(t, n.finish, "replaced by the added one")

	hasFinish, err = checkServices(ctx, serviceTree(true))
	require.NoError(t, err)
	assert.True(t, hasFinish)
}

// TestImageBadArgumentsSendNoQuery: what pipeline.New or pipeline.NewImage
// refuses, and arguments that contradict each other, are refused before the
// module sends the engine anything.
func TestImageBadArgumentsSendNoQuery(t *testing.T) {
	ctx := context.Background()
	mod := func(f func(*imageCall)) imageCall {
		c := imageCall{args: defaults("2.1.6.0"), services: serviceTree(false), base: dag.Container().From(testBase)}
		f(&c)
		return c
	}
	for name, tc := range map[string]struct {
		call imageCall
		want string
	}{
		"malformed version":    {mod(func(c *imageCall) { c.s6 = "2.1.6" }), "2.1.6"},
		"unknown release":      {mod(func(c *imageCall) { c.s6 = "9.9.9.9" }), "unknown s6 release 9.9.9.9 (nearest known: 2.15.1.0; `dagger call versions` lists all)"},
		"no digest":            {mod(func(c *imageCall) { c.s6 = "2.1.5.0" }), "no digest is known for s6-2.1.5.0.tar.gz"},
		"platform":             {mod(func(c *imageCall) { c.platform = "windows/amd64" }), "--platform"},
		"relative servicesDir": {mod(func(c *imageCall) { c.servicesDir = "etc/s6" }), `--services-dir "etc/s6": want a clean absolute path`},
		"servicesDir /":        {mod(func(c *imageCall) { c.servicesDir = "/" }), `--services-dir "/": the service tree needs a directory of its own`},
		"unclean prefix":       {mod(func(c *imageCall) { c.prefix = "/usr/local/" }), `--prefix "/usr/local/"`},
		"prefix characters":    {mod(func(c *imageCall) { c.prefix = "/opt/s 6" }), `--prefix "/opt/s 6"`},
		"no services":          {mod(func(c *imageCall) { c.services = nil }), "--services: a service tree directory is required"},
		"no base":              {mod(func(c *imageCall) { c.base = nil }), "--base: a base container is required, e.g. --base debian:bookworm-slim"},
		"no s6":                {mod(func(c *imageCall) { c.s6 = "" }), "--s6: give the s6 release to build, e.g. --s6 2.1.6.0 (`dagger call versions` lists them)"},
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

// TestImageSpecFields: a spec field the translation does not know, or a
// stop signal it cannot leave to the runtime, is an error.
func TestImageSpecFields(t *testing.T) {
	spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: testBase})
	require.NoError(t, err)
	base, dir := dag.Container().From(testBase), dag.Directory()
	_, err = imageContainer(base, dir, dir, spec)
	assert.NoError(t, err)
	spec.StopSignal = "SIGINT"
	_, err = imageContainer(base, dir, dir, spec)
	assert.ErrorContains(t, err, "cannot set an image's stop signal")
}
