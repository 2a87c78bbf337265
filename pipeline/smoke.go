package pipeline

import (
	_ "embed"
	"path"
)

// SmokeScript is the supervision smoke test (smoke.sh): s6-svscan -h, a
// service that comes up, is killed, runs finish and restarts, and
// s6-svscanctl -t ending the scan. It is a constant of the binary; the only
// arguments it gets are the fixed paths below.
//
//go:embed smoke.sh
var SmokeScript string

// Paths of the smoke stage.
const (
	SmokeDist   = "/dist"   // the dist tree, read-only
	SmokeReport = "/report" // checks that passed, one per line in SmokeChecks
	SmokeChecks = "checks"  // the report file smoke.sh writes
)

// smokeStage runs SmokeScript in the toolchain image against the dist. The
// dist's programs name paths under prefix (PREFIX/bin/execlineb,
// PREFIX/libexec/s6-ftrigrd), so the script installs the dist at / before
// testing: the stage's root filesystem is writable, and thrown away with it.
func smokeStage(env []string, prefix string) *Stage {
	return &Stage{ID: IDSmoke, Kind: KindTest, Deps: []string{IDToolchain, IDDist},
		Exec: &Exec{
			Env:          append(append([]string{}, env...), "LD_LIBRARY_PATH="+path.Join(SmokeDist, prefix, "lib")),
			Mounts:       []Mount{{Target: SmokeDist, From: IDDist, Readonly: true}},
			WritableRoot: true,
			Steps: []Step{{Name: "smoke test", Dir: "/",
				Args: []string{"sh", "-c", SmokeScript, "smoke", SmokeDist, SmokeReport, prefix}}},
			Output:    SmokeReport,
			AlwaysRun: true,
		}}
}
