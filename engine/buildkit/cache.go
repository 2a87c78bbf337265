package buildkit

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client"
)

// cacheAttrs are the attributes each cache backend of BuildKit takes
// (cache/remotecache/<type>), beside the exporters' common ones.
var cacheAttrs = map[string][]string{
	"registry": {"ref", "image-manifest", "oci-mediatypes", "registry.insecure"},
	"local":    {"src", "dest", "digest", "image-manifest", "oci-mediatypes"},
	"gha":      {"scope", "timeout", "token", "url", "url_v2", "repository", "ghtoken", "version"},
	"s3": {"bucket", "region", "prefix", "manifests_prefix", "blobs_prefix", "name", "touch_refresh", "endpoint_url",
		"access_key_id", "secret_access_key", "session_token", "use_path_style", "upload_parallelism",
		"disable_accept_encoding", "retry_mode", "retry_max_attempts"},
	"azblob": {"secret_access_key", "account_name", "account_url", "prefix", "manifests_prefix", "blobs_prefix", "name", "container"},
	"inline": {},
}

// exportAttrs are the attributes every cache export takes.
var exportAttrs = []string{"mode", "compression", "compression-level", "force-compression", "ignore-error"}

// cacheRequired are the attributes without which a backend cannot work,
// for an import and for an export.
var cacheRequired = map[string][2][]string{
	"registry": {{"ref"}, {"ref"}},
	"local":    {{"src"}, {"dest"}},
	"s3":       {{"bucket", "region"}, {"bucket", "region"}},
	"azblob":   {{"account_url"}, {"account_url"}},
}

// CheckCache checks a parsed --cache-from (export false) or --cache-to
// (export true) entry the way the daemon would only once it is reached:
// a known type, the attributes that type takes and needs, and values of
// the right kind (a ref that is an image reference, mode min or max...).
func CheckCache(e client.CacheOptionsEntry, export bool) error {
	attrs, ok := cacheAttrs[e.Type]
	if !ok || (e.Type == "inline" && !export) {
		types := slices.DeleteFunc(slices.Sorted(maps.Keys(cacheAttrs)), func(t string) bool { return t == "inline" && !export })
		return fmt.Errorf("type=%s: unknown cache type; want one of %s", e.Type, strings.Join(types, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Attrs)) {
		v := e.Attrs[k]
		if !export && slices.Contains(exportAttrs, k) {
			return fmt.Errorf("%s: an attribute of a cache export (--cache-to), not of an import", k)
		}
		if !slices.Contains(attrs, k) && !slices.Contains(exportAttrs, k) {
			return fmt.Errorf("%s: not an attribute of a type=%s cache %s", k, e.Type, map[bool]string{true: "export", false: "import"}[export])
		}
		if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
			return fmt.Errorf("%s=%q: a control character", k, v)
		}
		if err := checkCacheValue(k, v); err != nil {
			return fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	req := cacheRequired[e.Type][0]
	if export {
		req = cacheRequired[e.Type][1]
	}
	for _, k := range req {
		if e.Attrs[k] == "" {
			return fmt.Errorf("a type=%s cache needs %s=...", e.Type, k)
		}
	}
	return nil
}

func checkCacheValue(k, v string) error {
	switch k {
	case "ref":
		if _, err := reference.ParseNormalizedNamed(v); err != nil {
			return fmt.Errorf("not an image reference (%v)", err)
		}
	case "mode":
		if v != "min" && v != "max" {
			return fmt.Errorf("want min or max")
		}
	case "compression":
		if !slices.Contains([]string{"uncompressed", "gzip", "estargz", "zstd"}, v) {
			return fmt.Errorf("want uncompressed, gzip, estargz or zstd")
		}
	case "ignore-error", "image-manifest", "oci-mediatypes", "force-compression", "registry.insecure", "use_path_style":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("want true or false")
		}
	case "compression-level", "upload_parallelism", "retry_max_attempts":
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("want a number")
		}
	case "src", "dest":
		if v == "" {
			return fmt.Errorf("want a directory")
		}
	}
	return nil
}
