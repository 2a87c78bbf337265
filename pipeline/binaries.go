package pipeline

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/containerd/platforms"
)

// ELFTarget is what every binary built for a platform must say in its ELF
// header.
type ELFTarget struct {
	Machine elf.Machine
	Class   elf.Class
	Order   binary.ByteOrder
}

func (t ELFTarget) String() string {
	bits := "64-bit"
	if t.Class == elf.ELFCLASS32 {
		bits = "32-bit"
	}
	order := "little-endian"
	if t.Order == binary.BigEndian {
		order = "big-endian"
	}
	return fmt.Sprintf("%s %s %s", bits, order, strings.TrimPrefix(t.Machine.String(), "EM_"))
}

// elfTargets maps a platform's architecture (and variant) to its ELF
// header: the Linux architectures s6 is built for.
var elfTargets = map[string]ELFTarget{
	"amd64":    {elf.EM_X86_64, elf.ELFCLASS64, binary.LittleEndian},
	"386":      {elf.EM_386, elf.ELFCLASS32, binary.LittleEndian},
	"arm64":    {elf.EM_AARCH64, elf.ELFCLASS64, binary.LittleEndian},
	"arm":      {elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian},
	"ppc64le":  {elf.EM_PPC64, elf.ELFCLASS64, binary.LittleEndian},
	"ppc64":    {elf.EM_PPC64, elf.ELFCLASS64, binary.BigEndian},
	"s390x":    {elf.EM_S390, elf.ELFCLASS64, binary.BigEndian},
	"riscv64":  {elf.EM_RISCV, elf.ELFCLASS64, binary.LittleEndian},
	"mips64le": {elf.EM_MIPS, elf.ELFCLASS64, binary.LittleEndian},
	"loong64":  {elf.EM_LOONGARCH, elf.ELFCLASS64, binary.LittleEndian},
}

// ELFTargetOf returns the ELF header the platform's binaries carry.
func ELFTargetOf(platform string) (ELFTarget, error) {
	p, err := platforms.Parse(platform)
	if err != nil {
		return ELFTarget{}, err
	}
	t, ok := elfTargets[p.Architecture]
	if !ok {
		return ELFTarget{}, fmt.Errorf("platform %s: s6builder does not know its ELF machine", platform)
	}
	return t, nil
}

// BinaryDirs are the folders under the prefix whose files are programs.
var BinaryDirs = []string{"bin", "sbin", "libexec"}

// DistBinaryDirs are BinaryDirs where a dist built for r holds them:
// under its prefix, as slash paths relative to the dist's root.
func (r Request) DistBinaryDirs() []string {
	var out []string
	for _, d := range BinaryDirs {
		out = append(out, strings.TrimPrefix(path.Join(r.Prefix, d), "/"))
	}
	return out
}

// CheckBinary checks one file of a dist built for req: an ELF file must be
// for req's platform (machine, class, byte order) and, unless req is
// dynamic, static (no interpreter, no needed libraries). A file that is not
// ELF (a script) passes. name is for the error.
func CheckBinary(req Request, name string, r io.ReaderAt) error {
	if !IsELF(r) {
		return nil
	}
	want, err := ELFTargetOf(req.Platform)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("%s: unreadable ELF file: %w", name, err)
	}
	defer f.Close()
	got := ELFTarget{Machine: f.Machine, Class: f.Class, Order: f.ByteOrder}
	if got.Machine != want.Machine || got.Class != want.Class || got.Order != want.Order {
		return fmt.Errorf("%s is a %s binary, but the request is for %s (%s): the toolchain did not build for the requested platform",
			name, got, req.Platform, want)
	}
	if req.Dynamic {
		return nil
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has an ELF interpreter), but the request is for static binaries", name)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries (%s), but the request is for static binaries", name, strings.Join(libs, ", "))
	}
	return nil
}

// IsELF reports whether r starts with the ELF magic number.
func IsELF(r io.ReaderAt) bool {
	var magic [4]byte
	_, err := r.ReadAt(magic[:], 0)
	return err == nil && string(magic[:]) == elf.ELFMAG
}
