// Package hygiene holds checks of the repository's own files.
package hygiene
