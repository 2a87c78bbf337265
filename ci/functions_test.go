package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFunctions pins the module's API as the engine registers it. Dagger's
// codegen (generate-typedefs, what the engine's Go SDK runs to learn a
// module's functions) runs against the fake engine; the functions,
// arguments, types, defaults and descriptions it registers are compared with
// testdata/functions.txt, which is therefore what `dagger functions` and
// `dagger call FUNCTION --help` show.
//
// It needs the codegen binary and a copy of the module context to run in
// (codegen writes into it), which scripts/dagger-check provides:
// S6BUILDER_DAGGER_CODEGEN and S6BUILDER_DAGGER_MODCTX. With
// S6BUILDER_DAGGER_GOLDEN=update it rewrites the golden file instead
// (scripts/dagger-check generate).
func TestFunctions(t *testing.T) {
	codegen, modctx := os.Getenv("S6BUILDER_DAGGER_CODEGEN"), os.Getenv("S6BUILDER_DAGGER_MODCTX")
	if codegen == "" || modctx == "" {
		t.Skip("run by scripts/dagger-check (needs S6BUILDER_DAGGER_CODEGEN and S6BUILDER_DAGGER_MODCTX)")
	}
	schema, err := filepath.Abs(filepath.Join("codegen", "introspection-v0.21.8-module.json"))
	require.NoError(t, err)

	fake.reset()
	cmd := exec.Command(codegen, "generate-typedefs",
		"--module-source-path", filepath.Join(modctx, "ci"),
		"--module-name", "s6builder", // dagger.json's name
		"--output", "typedefs.json", // relative to the module context
		"--introspection-json-path", schema)
	cmd.Dir = modctx
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "codegen generate-typedefs:\n%s", out)

	var mod chain
	for _, c := range fake.mintedChains() {
		if c[0].Field == "module" {
			mod = c
		}
	}
	require.NotNil(t, mod, "codegen registered no module")
	got := describeModule(t, mod)

	golden := filepath.Join("testdata", "functions.txt")
	if os.Getenv("S6BUILDER_DAGGER_GOLDEN") == "update" {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got, "the module's functions changed: run scripts/dagger-check generate and review testdata/functions.txt")
}

// describeModule renders module.withDescription.withObject(typeDef.
// withObject.withFunction(function.withDescription.withArg...)...) as text.
func describeModule(t *testing.T, mod chain) string {
	t.Helper()
	var b strings.Builder
	for _, c := range mod[1:] {
		switch c.Field {
		case "withDescription":
			b.WriteString("module s6builder\n" + indent(str(t, c, "description"), "  ") + "\n")
		case "withObject":
			// One object each: its name, fields and functions, sorted.
			obj := sub(t, c, "object")
			var members []string
			for _, oc := range obj[1:] {
				switch oc.Field {
				case "withObject":
					b.WriteString("\ntype " + str(t, oc, "name") + "\n" + indent(str(t, oc, "description"), "  ") + "\n")
				case "withField":
					members = append(members, "field "+lowerFirst(str(t, oc, "name"))+": "+describeType(t, sub(t, oc, "typeDef"))+"\n"+
						indent(str(t, oc, "description"), "  ")+"\n")
				case "withFunction":
					members = append(members, describeFunction(t, sub(t, oc, "function")))
				case "withConstructor":
					members = append(members, "constructor "+describeFunction(t, sub(t, oc, "function")))
				default:
					t.Fatalf("unexpected %s in the object's definition", oc)
				}
			}
			sort.Strings(members)
			for _, f := range members {
				b.WriteString("\n" + f)
			}
		default:
			t.Fatalf("unexpected %s in the module's definition", c)
		}
	}
	return b.String()
}

func describeFunction(t *testing.T, fn chain) string {
	t.Helper()
	require.Equal(t, "function", fn[0].Field)
	name := lowerFirst(str(t, fn[0], "name"))
	var desc, cache string
	var args []string
	for _, c := range fn[1:] {
		switch c.Field {
		case "withDescription":
			desc = str(t, c, "description")
		case "withCachePolicy":
			cache = " (cache: " + str(t, c, "policy")
			if ttl, ok := c.Args["timeToLive"]; ok {
				cache += " " + ttl.(string)
			}
			cache += ")"
		case "withSourceMap":
		case "withArg":
			a := "  " + str(t, c, "name") + ": " + describeType(t, sub(t, c, "typeDef"))
			if d, ok := c.Args["defaultValue"]; ok {
				a += " = " + d.(string)
			}
			if d, ok := c.Args["description"]; ok {
				a += "\n" + indent(d.(string), "      # ")
			}
			args = append(args, a)
		default:
			t.Fatalf("unexpected %s in function %s", c, name)
		}
	}
	sig := name + "(\n" + strings.Join(args, "\n") + "\n): " + describeType(t, sub(t, fn[0], "returnType")) + cache + "\n"
	if len(args) == 0 {
		sig = name + "(): " + describeType(t, sub(t, fn[0], "returnType")) + cache + "\n"
	}
	return sig + indent(desc, "  # ") + "\n"
}

// describeType renders typeDef.withKind|withObject|withScalar|withListOf
// [.withOptional] as GraphQL does: String!, Directory, [String!], ...
func describeType(t *testing.T, td chain) string {
	t.Helper()
	require.Equal(t, "typeDef", td[0].Field)
	var name string
	required := "!"
	for _, c := range td[1:] {
		switch c.Field {
		case "withKind":
			kind := str(t, c, "kind")
			name = map[string]string{"STRING_KIND": "String", "BOOLEAN_KIND": "Boolean", "INTEGER_KIND": "Int",
				"FLOAT_KIND": "Float", "VOID_KIND": "Void"}[kind]
			require.NotEmpty(t, name, "kind %s", kind)
		case "withObject", "withScalar", "withEnum", "withInterface":
			name = str(t, c, "name")
		case "withListOf":
			name = "[" + describeType(t, sub(t, c, "elementType")) + "]"
		case "withOptional":
			if c.Args["optional"] == true {
				required = ""
			}
		default:
			t.Fatalf("unexpected %s in a type", c)
		}
	}
	return name + required
}

func lowerFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(prefix+l, " ")
	}
	return strings.Join(lines, "\n")
}
