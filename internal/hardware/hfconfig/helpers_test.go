package hfconfig

import (
	"os"
	"path/filepath"
	"testing"
)

func mustModel(t testing.TB, id string) Model {
	t.Helper()
	m, err := LookupModel(id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readConfig(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
