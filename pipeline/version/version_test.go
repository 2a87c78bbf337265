package version_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline/version"
)

func TestParse(t *testing.T) {
	v, err := version.Parse("2.15.1.0")
	require.NoError(t, err)
	assert.Equal(t, version.Version{2, 15, 1, 0}, v)
	assert.Equal(t, "2.15.1.0", v.String())
	assert.Equal(t, "2.15", v.Minor())
	for _, bad := range []string{"", "2.1.6", "2.1.6.0.1", "v2.1.6.0", "2.1.6.0 ", "2.1.-6.0", "2.1.+6.0", "02.1.6.0",
		"2..6.0", "2.1.6.0;id", "2.1.6.99999", "2.1.6.0\n", "../../etc", "２.1.6.0"} {
		_, err := version.Parse(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestOrder(t *testing.T) {
	a, b := version.MustParse("2.9.0.0"), version.MustParse("2.10.0.0")
	assert.True(t, a.Less(b), "numeric, not lexical")
	assert.True(t, b.AtLeast(a))
	assert.Equal(t, 0, a.Compare(a))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"2.1.6.0", "2.15.1.0", "", "1.2.3", "9999.0.0.0", "2.1.6.0;rm", "0.0.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := version.Parse(s)
		if err != nil {
			return
		}
		// Whatever parses prints back to exactly the input.
		if v.String() != s {
			t.Fatalf("Parse(%q) = %v, which prints as %q", s, v, v.String())
		}
	})
}
