package catalog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/version"
)

func TestDefaultCatalogue(t *testing.T) {
	c, err := catalog.Default()
	require.NoError(t, err)
	newest, err := c.Newest(catalog.S6)
	require.NoError(t, err)
	assert.Equal(t, "2.15.1.0", newest.Version.String())
	r, err := c.Lookup(catalog.S6, version.MustParse("2.1.6.0"))
	require.NoError(t, err)
	assert.Equal(t, "s6-2.1.6.0.tar.gz", r.Tarball)
	assert.Equal(t, "sha256:a4e977253fbe130788b721ae51a70680b71f4dfe3c02ebb1db0472e21548d467", r.Digest.String())
	assert.Contains(t, r.DigestSource, "AUR")
	assert.Equal(t, "2.3.5.1", r.Needs["skalibs"].String())
	assert.Equal(t, "2.1.2.2", r.Needs["execline"].String())
	sk, err := c.Lookup("skalibs", version.MustParse("2.3.5.1"))
	require.NoError(t, err)
	assert.NotEmpty(t, sk.Released)
	assert.NotEmpty(t, sk.Source)
}

func TestResolveEveryS6Release(t *testing.T) {
	c, err := catalog.Default()
	require.NoError(t, err)
	// The requirements file, read independently of the catalogue code.
	b, err := os.ReadFile(filepath.Join("data", "s6-requirements.tsv"))
	require.NoError(t, err)
	rows := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
	require.Len(t, c.Releases(catalog.S6), len(rows))
	for _, row := range rows {
		f := strings.Split(row, "\t")
		sel, err := c.Resolve(f[0], nil)
		require.NoError(t, err, f[0])
		assert.Equal(t, []string{"skalibs", "execline", "s6"}, sel.Packages())
		for dep, need := range map[string]string{"skalibs": f[2], "execline": f[3]} {
			got, _ := sel.Release(dep)
			min, err := c.Lookup(dep, version.MustParse(need))
			require.NoError(t, err)
			if min.Digest != "" || got.Version == min.Version {
				assert.Equal(t, need, got.Version.String(), "%s for s6 %s", dep, f[0])
				continue
			}
			// The minimum has no digest: a later release of its line that
			// has one, and a note that says so.
			assert.True(t, catalog.Compatible(min.Version, got.Version), "%s %s for s6 %s", dep, got.Version, f[0])
			assert.NotEmpty(t, got.Digest)
			assert.Contains(t, strings.Join(sel.Notes(), "\n"), dep+" "+need+" (which s6 "+f[0]+" needs) has no published digest")
		}
	}
}

func TestResolveOverridesWithinCompatibleLine(t *testing.T) {
	c, err := catalog.Default()
	require.NoError(t, err)
	sel, err := c.Resolve("2.1.6.0", map[string]string{"skalibs": "2.3.10.0"})
	require.NoError(t, err)
	assert.Equal(t, "2.3.10.0", release(t, sel, "skalibs"))
	_, err = c.Resolve("2.1.6.0", map[string]string{"skalibs": "2.3.4.9"})
	assert.ErrorContains(t, err, "unknown skalibs release 2.3.4.9")
	_, err = c.Resolve("2.1.6.0", map[string]string{"skalibs": "2.4.0.0"})
	assert.ErrorContains(t, err, "known: 2.3.5.1, 2.3.6.0")
}

func TestUserCatalogueAddsAndOverrides(t *testing.T) {
	c, err := catalog.Default()
	require.NoError(t, err)
	cf, err := catalog.ParseFile([]byte(`{"releases": [
	  {"package": "s6", "version": "2.1.6.0", "digest": "sha512:` + strings.Repeat("ab", 64) + `"},
	  {"package": "s6", "version": "9.0.0.0", "tarball": "s6-nine.tar.gz", "digest": "sha256:` + strings.Repeat("cd", 32) + `", "skalibs": "2.15.1.0", "execline": "2.9.9.2"}
	]}`))
	require.NoError(t, err)
	c.Apply(cf, "my.json")
	r, _ := c.Lookup(catalog.S6, version.MustParse("2.1.6.0"))
	assert.Equal(t, "sha512", string(r.Digest.Algorithm()))
	assert.Equal(t, "my.json", r.DigestSource)
	sel, err := c.Resolve("", map[string]string{})
	require.NoError(t, err)
	s6, _ := sel.Release(catalog.S6)
	assert.Equal(t, "9.0.0.0", s6.Version.String(), "newest now the added one")
	assert.Equal(t, "s6-nine.tar.gz", s6.Tarball)
}

func TestUserCatalogueRefusals(t *testing.T) {
	for name, tc := range map[string]struct{ json, want string }{
		"not json":        {`releases:`, "not a catalogue"},
		"unknown field":   {`{"releases":[{"package":"s6","version":"2.1.6.0","sha":"x"}]}`, `unknown field "sha"`},
		"bad package":     {`{"releases":[{"package":"runit","version":"2.1.6.0"}]}`, `package "runit"`},
		"bad version":     {`{"releases":[{"package":"s6","version":"2.1"}]}`, `version "2.1"`},
		"path tarball":    {`{"releases":[{"package":"s6","version":"2.1.6.0","tarball":"../../etc/passwd.tar.gz"}]}`, "plain file name"},
		"md5 digest":      {`{"releases":[{"package":"s6","version":"2.1.6.0","digest":"md5:d18e9361194e478f685a05b814658c0f"}]}`, "sha256"},
		"short digest":    {`{"releases":[{"package":"s6","version":"2.1.6.0","digest":"sha256:abcd"}]}`, "sha256:<64 hex>"},
		"deps on skalibs": {`{"releases":[{"package":"skalibs","version":"2.1.6.0","skalibs":"2.3.5.1","execline":"2.1.2.2"}]}`, "only s6"},
		"half deps":       {`{"releases":[{"package":"s6","version":"2.1.6.0","skalibs":"2.3.5.1"}]}`, "both"},
		"trailing":        {`{"releases":[]} {}`, "trailing"},
		"needs unlinked":  {`{"releases":[{"package":"s6-dns","version":"2.4.1.3","needs":{"s6":"2.15.1.0"}}]}`, "needs.s6: s6-dns links against skalibs only"},
		"needs twice":     {`{"releases":[{"package":"s6","version":"2.1.6.0","skalibs":"2.3.5.1","execline":"2.1.2.2","needs":{"skalibs":"2.3.5.1"}}]}`, "skalibs is given twice"},
		"needs bad ver":   {`{"releases":[{"package":"s6-rc","version":"0.7.0.0","needs":{"s6":"2.x"}}]}`, "needs.s6"},
		"needs conflict": {`{"releases":[{"package":"s6-rc","version":"0.7.0.0","needs":{"s6":"2.14.0.0"}},` +
			`{"package":"s6-rc","version":"0.7.0.0","needs":{"s6":"2.15.0.0"}}]}`, "needs.s6 (2.14.0.0 and 2.15.0.0)"},
		"no releases":   {`{}`, `it needs a "releases" list`},
		"null releases": {`{"releases": null}`, `it needs a "releases" list`},
		"null entry":    {`{"releases": [null]}`, "releases[0]: null"},
		"null field":    {`{"releases":[{"package":"s6","version":"2.1.6.0","digest":null}]}`, "releases[0].digest: null"},
		"empty tarball": {`{"releases":[{"package":"s6","version":"2.1.6.0","tarball":""}]}`, "releases[0].tarball: an empty value"},
		"conflicting duplicate": {`{"releases":[{"package":"s6","version":"2.1.6.0","digest":"sha256:` + strings.Repeat("a", 64) + `"},` +
			`{"package":"s6","version":"2.1.6.0","digest":"sha256:` + strings.Repeat("b", 64) + `"}]}`,
			"releases[0] and releases[1] both describe s6 2.1.6.0, with different digest (sha256:aaaa"},
		"another release's tarball": {`{"releases":[{"package":"s6","version":"2.1.5.0","tarball":"s6-2.1.6.0.tar.gz","digest":"sha256:` + strings.Repeat("b", 64) + `"}]}`,
			`releases[0]: tarball "s6-2.1.6.0.tar.gz" is s6 2.1.6.0's name, not s6 2.1.5.0's`},
		"one tarball, two releases": {`{"releases":[{"package":"s6","version":"2.1.5.0","tarball":"s6-latest.tar.gz"},` +
			`{"package":"s6","version":"2.1.6.0","tarball":"s6-latest.tar.gz"}]}`,
			"releases[0] and releases[1] both name the tarball s6-latest.tar.gz, as s6 2.1.5.0 and s6 2.1.6.0"},
		"syntax error, line and column": {"{\"releases\": [\n  {\"package\": \"s6\",\n   \"digest\": sha256}]}", "line 3, column 14: invalid character 's'"},
		"type error, line and column":   {"{\"releases\": [\n  {\"package\": 6}]}", "line 2, column"},
		"a TSV file":                    {"package\tversion\tdigest\ns6\t2.1.6.0\tsha256:aa\n", "line 1, column 1: invalid character 'p'"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := catalog.ParseFile([]byte(tc.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"releases":[{"package":"s6","version":"2.1.6.0","digest":"sha256:` + strings.Repeat("0", 64) + `"}]}`))
	f.Add([]byte(`{"releases":[{"package":"s6","version":"9.0.0.0","skalibs":"2.15.1.0","execline":"2.9.9.2"}]}`))
	f.Add([]byte(`{"releases":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := catalog.ParseFile(b)
		if err != nil {
			return
		}
		// Whatever is accepted applies and resolves without panicking.
		c, err := catalog.Default()
		require.NoError(t, err)
		c.Apply(cf, "fuzz")
		for _, r := range cf.Releases {
			if r.Package == catalog.S6 {
				_, _ = c.Resolve(r.Version, nil)
			}
		}
	})
}

func TestLockMayNotContradictAPublishedDigest(t *testing.T) {
	c, err := catalog.Default()
	require.NoError(t, err)
	lock := catalog.File{Releases: []catalog.FileRelease{{Package: "s6", Version: "2.1.6.0", Digest: "sha256:" + strings.Repeat("0", 64)}}}
	err = c.ApplyLock(lock, "s6builder.lock")
	assert.ErrorContains(t, err, "but AUR s6 PKGBUILD")
	path := filepath.Join(t.TempDir(), "s6builder.lock")
	empty, err := catalog.ReadLock(path)
	require.NoError(t, err, "a missing lock is empty")
	pin := catalog.FileRelease{Package: "s6", Version: "2.1.5.0", Digest: "sha256:" + strings.Repeat("1", 64)}
	require.NoError(t, catalog.WriteLock(path, empty, []catalog.FileRelease{pin}))
	back, err := catalog.ReadLock(path)
	require.NoError(t, err)
	assert.Equal(t, []catalog.FileRelease{pin}, back.Releases)
}

func TestIdenticalDuplicatesAreAccepted(t *testing.T) {
	d := `{"package":"s6","version":"2.1.6.0","digest":"sha256:` + strings.Repeat("a", 64) + `"}`
	_, err := catalog.ParseFile([]byte(`{"releases":[` + d + `,` + d + `]}`))
	assert.NoError(t, err)
}

// release is the version the selection picked for pkg.
func release(t *testing.T, sel catalog.Selection, pkg string) string {
	t.Helper()
	r, ok := sel.Release(pkg)
	require.True(t, ok, "%s is selected", pkg)
	return r.Version.String()
}

// A catalogue file gives any release the oldest releases it builds with
// (needs), which then decide what it links against.
func TestUserCatalogueNeedsOfAFamilyMember(t *testing.T) {
	cf, err := catalog.ParseFile([]byte(`{"releases":[{"package":"s6-rc","version":"0.9.0.0",` +
		`"digest":"sha256:` + strings.Repeat("c", 64) + `","needs":{"skalibs":"2.15.1.0","s6":"2.15.1.0"}}]}`))
	require.NoError(t, err)
	c, err := catalog.Default()
	require.NoError(t, err)
	c.Apply(cf, "test")
	r, err := c.Lookup("s6-rc", version.MustParse("0.9.0.0"))
	require.NoError(t, err)
	assert.Equal(t, []string{"skalibs", "s6"}, r.Links(), "execline left out of needs: not linked")
	assert.Equal(t, version.MustParse("2.15.1.0"), r.Needs["s6"])
	assert.Equal(t, "test", r.NeedsSource)
}

// Every embedded digest says how many packagers published it; the table
// tells corroborated digests from single ones and from the user's.
func TestDigestPublishersAreShown(t *testing.T) {
	c, err := catalog.Default()
	require.NoError(t, err)
	rc, err := c.Lookup("s6-rc", version.MustParse("0.7.0.0"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, rc.DigestPublishers, 2, "s6-rc 0.7.0.0: %s", rc.DigestSource)
	for _, e := range c.Entries() {
		if e.Digest != "" {
			assert.GreaterOrEqual(t, e.DigestPublishers, 1, "%s %s", e.Package, e.Version)
		}
	}
	cf, err := catalog.ParseFile([]byte(`{"releases":[{"package":"s6-rc","version":"0.7.0.0","digest":"sha256:` + strings.Repeat("d", 64) + `"}]}`))
	require.NoError(t, err)
	c.Apply(cf, "--catalog mine.json")
	var b strings.Builder
	require.NoError(t, c.WriteTable(&b))
	assert.Regexp(t, `(?m)^s6-rc\s+0\.7\.0\.0\s.*--catalog mine\.json$`, b.String())
	assert.Regexp(t, `(?m)^s6-rc\s+0\.6\.1\.1\s.*sha256:\S+\s+\d+ packagers? `, b.String()+" ")
}

// A file over the size bound is refused without being read whole.
func TestAHugeCatalogueFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(100<<20)) // 100 MB, sparse
	require.NoError(t, f.Close())
	_, err = catalog.ReadFile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "huge.json: larger than 4194304 bytes")
}
