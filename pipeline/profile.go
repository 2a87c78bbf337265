package pipeline

import (
	_ "embed"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/recipe"
)

// ProfileScript copies a profile's programs and what they exec out of the
// whole dist (profile.sh).
//
//go:embed profile.sh
var ProfileScript string

// IDDistAll is every package's install tree merged, when a profile keeps
// part of it as the dist (IDDist).
const IDDistAll = "dist/all"

// profileStage is the dist of a request with a profile: the profile's
// programs of the whole dist and what they exec. Each program's package
// must be in the selection, at a release that installs it.
func profileStage(sel catalog.Selection, req Request) (*Stage, error) {
	progs, err := recipe.Profile(req.Profile)
	if err != nil {
		return nil, inputerr.New("profile", req.Profile, "%v", err)
	}
	args := []string{"sh", "-c", ProfileScript, "profile", SmokeDist, OutDir, req.Prefix}
	for _, pr := range progs {
		rel, ok := sel.Release(pr.Package)
		if !ok {
			return nil, inputerr.New("profile", req.Profile, "it keeps %s of %s, which the request does not build", pr.Path, pr.Package)
		}
		if rel.Version.Less(pr.Since) {
			return nil, inputerr.New("profile", req.Profile, "it keeps %s, which %s installs from %s on, and the request has %s %s", pr.Path, pr.Package, pr.Since, pr.Package, rel.Version)
		}
		args = append(args, pr.Path)
	}
	return &Stage{ID: IDDist, Kind: KindAssemble, Deps: []string{IDToolchain, IDDistAll},
		Exec: &Exec{
			Env:    []string{"PATH=" + DefaultPath},
			Mounts: []Mount{{Target: SmokeDist, From: IDDistAll, Readonly: true}},
			Steps:  []Step{{Name: "profile", Dir: "/", Args: args}},
			Output: OutDir,
		}}, nil
}
